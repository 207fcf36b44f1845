"""A roll as ONE combo order: buy to close the held short option and sell a later one together.

Two loose orders leave a trader half-rolled when one fills and the other does not; IB's combo
(BAG) order fills both legs or neither, at a net price. The roll page offers only contracts
the chain lists (later expiries, their listed strikes), with each candidate's net credit, new
breakeven, added days and APY on the net credit; the bridge prices the chosen combo (its
suggested net limit from the quote now) and IB's what-if runs on the whole combo. Confirming
places one order; its two leg fills reach the ledger as one roll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone
from wheeldesk.clients import SyncBridgeClient
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.orders import ComboLeg, ComboOrderRequest, ComboPreview

from wheeldesk_web.orders.models import Order
from wheeldesk_web.orders.services import (
    OrderRefused,
    _explain,
    audit,
    claim_and_send,
    may_send,
)

# How far past the held expiry the page looks for candidates; the chain's strikes nearest the
# money it asks for, and how many of them nearest the held strike it offers per expiry.
HORIZON_DAYS = 70
STRIKES = 20
PER_EXPIRY = 5


@dataclass(frozen=True)
class Candidate:
    """A listed contract to roll to, with what the roll would do at today's mids."""

    expiry: date
    strike: float
    bid: float | None
    ask: float | None
    net_credit: float | None  # per share: the new leg's mid minus the held leg's mark
    breakeven: float | None  # the new strike less every credit taken (original + roll)
    added_days: int
    apy: float | None  # the net credit on the strike's collateral, over the added days

    @property
    def value(self) -> str:
        return f"{self.expiry.isoformat()}|{self.strike:g}"


def held_position(
    bridge: SyncBridgeClient, symbol: str, expiry: date, strike: Decimal, right: str
) -> Position | None:
    """The short option the roll closes, as IB holds it now (None when not held)."""
    for p in bridge.positions():
        if (
            p.sec_type == "OPT"
            and p.symbol == symbol
            and p.expiry == expiry
            and p.right == right
            and p.strike is not None
            and abs(Decimal(str(p.strike)) - strike) < Decimal("0.0001")
            and p.quantity < 0
        ):
            return p
    return None


def candidates(bridge: SyncBridgeClient, held: Position, today: date) -> list[Candidate]:
    """Every listed later contract near the money of the held one's right, priced at mids."""
    assert held.expiry is not None and held.strike is not None and held.right is not None
    dte = (held.expiry - today).days
    chain = bridge.chain(
        held.symbol,
        right=held.right,
        dte_min=max(dte + 1, 0),
        dte_max=dte + HORIZON_DAYS,
        strikes=STRIKES,
    )
    mark = held.market_price
    # The credit taken when the short was opened: IB's average cost per share (a short's is
    # the premium net of commission).
    opened = abs(held.avg_cost) / held.contract_multiplier if held.avg_cost else 0.0
    out = []
    for q in chain.options:
        c = q.contract
        if c.expiry <= held.expiry:
            continue
        mid = q.mid
        net = round(mid - mark, 4) if mid is not None and mark is not None else None
        added = (c.expiry - held.expiry).days
        breakeven = None
        if net is not None:
            credit = opened + net
            breakeven = round(c.strike - credit if c.right == "P" else c.strike + credit, 2)
        apy = None
        if net is not None and added > 0 and c.strike > 0:
            apy = round(net / c.strike * 365 / added * 100, 2)
        out.append(Candidate(c.expiry, c.strike, q.bid, q.ask, net, breakeven, added, apy))
    # Per expiry, the strikes nearest the held one: a roll moves out, and a little up or down.
    kept: list[Candidate] = []
    for e in sorted({c.expiry for c in out}):
        near = sorted((c for c in out if c.expiry == e), key=lambda c: abs(c.strike - held.strike))
        kept += sorted(near[:PER_EXPIRY], key=lambda c: c.strike)
    return kept


def listed(found: list[Candidate], expiry: date, strike: Decimal) -> Candidate | None:
    """The candidate at that expiry and strike, or None: only a listed contract can be chosen."""
    for c in found:
        if c.expiry == expiry and abs(Decimal(str(c.strike)) - strike) < Decimal("0.0001"):
            return c
    return None


def combo_request(order: Order) -> ComboOrderRequest:
    return order.to_request()  # type: ignore[return-value]


def prepare(
    user,  # type: ignore[no-untyped-def]
    held: Position,
    target: Candidate,
    quantity: int,
    bridge: SyncBridgeClient,
) -> Order:
    """The roll's draft (one order, a BAG of two legs), previewed at the bridge's net."""
    assert held.expiry is not None and held.strike is not None and held.right is not None
    legs = [
        ComboLeg(expiry=held.expiry, strike=held.strike, right=held.right, action="BUY"),
        ComboLeg(expiry=target.expiry, strike=target.strike, right=held.right, action="SELL"),
    ]
    order = Order.objects.create(
        user=user if user and user.is_authenticated else None,
        intent="roll",
        symbol=held.symbol,
        sec_type="BAG",
        expiry=target.expiry,
        strike=Decimal(str(target.strike)),
        right=held.right,
        action="BUY",
        quantity=quantity,
        limit_price=None,
        legs=[leg.model_dump(mode="json") for leg in legs],
    )
    order.roll_group = order.client_order_id
    order.save(update_fields=["roll_group"])
    run_preview(order, bridge, user)
    return order


def _roll_checks(
    order: Order, preview: ComboPreview | None, answers: dict[str, tuple]
) -> list[dict]:
    """The checks of a single order on the roll (`roll_checks`), on the account, positions,
    working orders and event dates the bridge answered with (`services.ask_bridge`)."""
    from wheeldesk_web.core.clock import broker_today
    from wheeldesk_web.orders.roll_checks import roll_checks
    from wheeldesk_web.orders.services import _working_contracts, limits

    failed = next(
        (answers[k][1] for k in ("account", "positions", "orders") if answers[k][1]), None
    )
    if failed is not None:
        return [{"name": "Account", "level": "block", "message": _explain(failed), "numbers": {}}]
    bridge_orders = answers["orders"][0]
    info = answers["stock"][0]
    checks = roll_checks(
        order,
        preview=preview,
        account=answers["account"][0],
        positions=answers["positions"][0],
        working=_working_contracts(order, bridge_orders),
        bridge_orders=bridge_orders,
        limits=limits(),
        earnings=info.fundamentals.next_earnings if info is not None else None,
        ex_dividend=info.fundamentals.ex_dividend if info is not None else None,
        today=broker_today(),
    )
    return [c.as_dict() for c in checks]


def run_preview(order: Order, bridge: SyncBridgeClient, user=None) -> ComboPreview | None:  # type: ignore[no-untyped-def]
    """IB's what-if on the whole combo (a draft without a net limit takes the bridge's), then
    every pre-trade check a single order gets, on what the roll does."""
    from wheeldesk_web.orders.services import ask_bridge

    checks: list[dict] = []
    request = combo_request(order)
    answers = ask_bridge(bridge, order.symbol, lambda: bridge.preview_combo(request))
    preview, failed = answers["preview"]
    if failed is not None:
        checks.append(
            {"name": "What-if", "level": "block", "message": _explain(failed), "numbers": {}}
        )
    if preview is not None:
        if order.limit_price is None and preview.suggested_limit is not None:
            order.limit_price = Decimal(str(preview.suggested_limit))
        checks.append(
            {
                "name": "What-if",
                "level": "pass",
                "message": f"IBKR accepts the combo; commission ${preview.commission or 0:.2f}",
                "numbers": {},
            }
        )
        for w in preview.warnings:
            level = "block" if "needs force" in w or "refused" in w else "warn"
            checks.append({"name": "Bridge", "level": level, "message": w, "numbers": {}})
        order.account_id, order.is_paper = preview.account_id, preview.is_paper
    checks += _roll_checks(order, preview, answers)
    order.preview = preview.model_dump(mode="json") if preview else {}
    order.checks = checks
    order.ticket_hash = order.ticket_digest()
    order.previewed_at = timezone.now()
    order.save()
    audit(
        order,
        "preview",
        "; ".join(c["message"] for c in checks if c["level"] == "block") or "combo ok",
        user,
        commission=preview.commission if preview else None,
        limit=order.limit_price,
        quantity=order.quantity,
    )
    return preview


def confirm(order: Order, bridge: SyncBridgeClient, user=None, ticket: str = "") -> Order:  # type: ignore[no-untyped-def]
    """Place the roll as ONE combo order, once: the ticket the user saw, the trading switch, the
    what-if again (a fresh quote), then one claim of the row and one place call."""
    if not may_send(
        order, user, ticket, lambda: "the roll changed since the preview you confirmed"
    ):
        return order
    if order.limit_price is None:
        raise OrderRefused("Not sent: the roll has no net limit yet; preview it again.")
    run_preview(order, bridge, user)
    blocks = [c for c in order.checks if c.get("level") == "block"]
    if blocks:
        names = "; ".join(c["message"] for c in blocks)
        audit(order, "refused", f"blocked: {names}", user)
        raise OrderRefused(f"Not sent: {names}")
    request = combo_request(order)
    return claim_and_send(order, user, bridge, lambda: bridge.place_combo(request), request, "roll")
