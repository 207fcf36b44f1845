"""Order lifecycle: draft → preview (what-if + checks) → confirm → place → status → cancel.

Idempotency lives in two places: the `client_order_id` is fixed when the draft is
created (the bridge dedups on it), and confirm moves an order out of `previewed`
with a conditional UPDATE, so a double click or a replayed POST sends nothing twice.
An order whose answer was lost is looked up in the bridge's order list, never re-sent.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TypeVar

from django.utils import timezone
from pydantic import BaseModel
from wheeldesk.clients import ServiceCallError, SyncBridgeClient
from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.orders import ComboOrderRequest, OrderPreview
from wheeldesk.schemas.orders import Order as BridgeOrder

from wheeldesk_web.core.clock import broker_today
from wheeldesk_web.orders.checks import Check, Limits, Ticket, blocked, run_checks
from wheeldesk_web.orders.models import Order, TradingConfig
from wheeldesk_web.orders.state import (  # noqa: F401 (re-exported: the writers' old home)
    apply_bridge_order,
    apply_order_event,
    audit,
    move,
    reconcile,
    refresh,
)
from wheeldesk_web.signals import capacity

log = logging.getLogger(__name__)

P = TypeVar("P", bound=BaseModel)


class OrderRefused(Exception):
    """Wheeldesk or the bridge refused the order; `message` is for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def limits() -> Limits:
    cfg = TradingConfig.load()
    return Limits(
        trading_enabled=cfg.trading_enabled,
        max_contracts=cfg.max_contracts,
        max_notional=cfg.max_notional,
        limit_warn_pct=cfg.limit_warn_pct,
        limit_block_pct=cfg.limit_block_pct,
        concentration_pct=cfg.concentration_pct,
        cash_reserve_pct=cfg.cash_reserve_pct,
    )


def create_draft(user, **fields) -> Order:  # type: ignore[no-untyped-def]
    """A new order in `previewed` state with its client_order_id generated once, here."""
    order = Order.objects.create(user=user if user and user.is_authenticated else None, **fields)
    return order


def ticket_for(order: Order) -> Ticket:
    return Ticket(
        symbol=order.symbol,
        action=order.action,  # type: ignore[arg-type]
        quantity=order.quantity,
        limit_price=order.limit_price,
        sec_type=order.sec_type,
        right=order.right or None,
        strike=order.strike,
        expiry=order.expiry,
        multiplier=order.multiplier,
    )


def _working_contracts(order: Order, bridge_orders: list[BridgeOrder]) -> list[tuple]:
    seen: set[str] = {order.client_order_id}
    working: list[tuple] = []
    for o in Order.objects.filter(status__in=Order.WORKING).exclude(pk=order.pk):
        seen.add(o.client_order_id)
        working.append((o.symbol, o.right or None, o.strike, o.expiry, str(o)))
    for b in bridge_orders:
        if b.client_order_id in seen or b.status.is_terminal:
            continue
        r = b.request
        if isinstance(r, ComboOrderRequest):
            # A combo at IB (a roll): every leg is a working contract.
            for leg in r.legs:
                label = (
                    f"{r.symbol} combo {leg.action} {leg.expiry} {leg.strike:g}{leg.right} "
                    f"x{r.quantity} {b.status}"
                )
                working.append((r.symbol, leg.right, leg.strike, leg.expiry, label))
            continue
        label = f"{r.action} {r.quantity} {r.symbol} {r.strike or ''}{r.right or ''} {b.status}"
        working.append((r.symbol, r.right, r.strike, r.expiry, label))
    return working


@dataclass
class PreviewResult:
    preview: OrderPreview | None
    account: Account | None
    checks: list[Check]
    error: str = ""

    @property
    def blocked(self) -> bool:
        return blocked(self.checks)


QUOTE_FRESH = timedelta(seconds=30)
EVENTS = "Earnings / dividend"


def ask_bridge(
    bridge: SyncBridgeClient, symbol: str, preview: Callable[[], object] | None = None
) -> dict[str, tuple]:
    """The bridge calls of a preview (a single order's or a roll's), at once: they do not
    depend on each other, and one after the other they cost the sum of IB's answers (the
    what-if alone waits for a fresh quote). Without `preview` (a what-if reused) the event
    dates are not asked either. Each name maps to (answer, None) or (None, the error)."""
    calls: dict[str, Callable[[], object]] = {
        "account": bridge.account,
        "positions": bridge.positions,
        "orders": bridge.orders,
    }
    if preview is not None:
        calls["preview"] = preview
        calls["stock"] = lambda: bridge.stock(symbol)
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="preview") as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
    answers: dict[str, tuple] = {}
    for name, future in futures.items():
        try:
            answers[name] = (future.result(), None)
        except ServiceCallError as exc:
            answers[name] = (None, exc)
    return answers


def _gather(
    order: Order, bridge: SyncBridgeClient, *, reuse: OrderPreview | None = None
) -> tuple[PreviewResult, ServiceCallError | None]:
    """Every input of the checks, fresh from the bridge, and the checks run on the order now.

    `reuse`: a what-if of this very ticket taken moments ago (confirm right after the preview):
    its quote and margin stand, and the earnings/dividend check of that preview is kept (dates
    do not move in seconds); the account, positions and working orders are always asked again.
    """
    request = order.to_request()
    answers = ask_bridge(
        bridge,
        order.symbol,
        (lambda: bridge.preview(request)) if reuse is None else None,  # type: ignore[arg-type]
    )
    preview, failure = answers["preview"] if reuse is None else (reuse, None)
    if order.limit_price is None:
        # A draft without a limit (a close) was priced by the bridge: its what-if ran at the
        # limit it suggests from the quote now, on the contract's real tick grid; the user sees
        # and can change it before confirming.
        order.limit_price = (
            Decimal(str(preview.suggested_limit))
            if preview is not None and preview.suggested_limit
            else None
        )
        order.save(update_fields=["limit_price", "updated"])
    if failure is None:
        failure = next(
            (answers[k][1] for k in ("account", "positions", "orders") if answers[k][1]), None
        )
    error = _explain(failure) if failure is not None else ""
    account: Account | None = answers["account"][0]
    positions: list[Position] = answers["positions"][0] or []
    bridge_orders: list[BridgeOrder] = answers["orders"][0] or []
    info = answers["stock"][0] if "stock" in answers else None
    earnings = info.fundamentals.next_earnings if info is not None else None
    ex_div = info.fundamentals.ex_dividend if info is not None else None
    seen = preview
    if reuse is not None and account is not None:
        # The buying power of moments ago gives way to the account's funds as they are now.
        seen = reuse.model_copy(update={"buying_power_before": None})
    checks = run_checks(
        ticket_for(order),
        preview=seen,
        account=account,
        positions=positions,
        working=_working_contracts(order, bridge_orders),
        limits=limits(),
        earnings=earnings,
        ex_dividend=ex_div,
        today=broker_today(),
        capacity=capacity.compute(
            account,
            positions,
            capacity.working_sell_puts(bridge_orders, exclude_client_ids=[order.client_order_id]),
        ),
    )
    if reuse is not None:
        kept = next((c for c in order.checks if c.get("name") == EVENTS), None)
        if kept is not None:
            checks = [Check(**kept) if c.name == EVENTS else c for c in checks]
    if error:
        checks.insert(0, Check("What-if", "block", error))
    return PreviewResult(preview, account, checks, error), failure


def _store(order: Order, result: PreviewResult) -> None:
    preview, account = result.preview, result.account
    order.checks = [c.as_dict() for c in result.checks]
    order.preview = preview.model_dump(mode="json") if preview else {}
    if preview is not None:
        order.account_id = preview.account_id
        order.is_paper = preview.is_paper
    elif account is not None:
        order.account_id, order.is_paper = account.account_id, account.is_paper
    order.ticket_hash = order.ticket_digest()
    order.previewed_at = timezone.now()
    order.save(
        update_fields=[
            "checks",
            "preview",
            "account_id",
            "is_paper",
            "ticket_hash",
            "previewed_at",
            "updated",
        ]
    )


def run_preview(order: Order, bridge: SyncBridgeClient, user=None) -> PreviewResult:  # type: ignore[no-untyped-def]
    """Ask the bridge for the what-if and the account, run every check, store both (with the
    fingerprint of the ticket they are of: confirm compares it with what the user saw)."""
    result, _ = _gather(order, bridge)
    _store(order, result)
    preview = result.preview
    audit(
        order,
        "preview",
        result.error or f"{sum(c.level == 'block' for c in result.checks)} block(s)",
        user,
        commission=preview.commission if preview else None,
        limit=order.limit_price,
        quantity=order.quantity,
    )
    return result


def preview_current(order: Order) -> tuple[str, bool]:
    """The ticket's fingerprint now, and whether the stored preview is of it: a draft never
    previewed, or edited since, shows no what-if and cannot be confirmed (the draft pages of
    a single order and of a roll alike)."""
    current = order.ticket_digest()
    return current, bool(order.previewed_at) and order.ticket_hash == current


def stored_preview(order: Order, schema: type[P]) -> P | None:
    """The what-if kept with the order as `schema` (a single order's `OrderPreview`, a roll's
    `ComboPreview`), or None (none yet, or from an older schema)."""
    if not order.preview:
        return None
    try:
        return schema.model_validate(order.preview)
    except ValueError:
        return None


def preview_draft(order: Order, bridge: SyncBridgeClient, user=None) -> None:  # type: ignore[no-untyped-def]
    """The what-if and the checks again on a draft of either kind: a roll's combo has its own
    (`rolls.run_preview`), so the pages need not know which one they hold."""
    if order.is_combo:
        from wheeldesk_web.orders import rolls

        rolls.run_preview(order, bridge, user)
    else:
        run_preview(order, bridge, user)


def confirm_draft(order: Order, bridge: SyncBridgeClient, user=None, ticket: str = "") -> Order:  # type: ignore[no-untyped-def]
    """Confirm a draft of either kind: a roll through `rolls.confirm`, a single order here."""
    if order.is_combo:
        from wheeldesk_web.orders import rolls

        return rolls.confirm(order, bridge, user, ticket=ticket)
    return confirm(order, bridge, user, ticket=ticket)


def _not_connected(exc: ServiceCallError) -> bool:
    """The bridge answered that it has no IBKR session: refused before anything was placed
    (its `require_ready`), unlike a connection lost mid-request, which may have placed it."""
    return exc.status == 503 and exc.message.lower().startswith("not connected")


def _not_sent(order: Order, exc: ServiceCallError, user) -> OrderRefused:  # type: ignore[no-untyped-def]
    message = f"not sent — IBKR disconnected ({exc.message}); nothing was placed"
    move(order, Order.NOT_SENT, message, allowed_from={Order.PREVIEWED, Order.SENDING})
    audit(order, "refused", message, user, code=exc.code, status=exc.status)
    return OrderRefused(
        "Not sent — IBKR disconnected: nothing was placed. "
        "Confirm again once the connection is back."
    )


def _explain(exc: ServiceCallError) -> str:
    if exc.unavailable:
        return f"IBKR bridge unavailable ({exc.message}). Nothing was sent."
    if exc.code in {"live_account_refused", "live_orders_disabled", "live_guard"} or (
        exc.status == 403 and "live" in exc.message.lower()
    ):
        return (
            f"Refused by the live-account guard: {exc.message} "
            "(set ALLOW_LIVE_ORDERS=true on the bridge to trade a live account)."
        )
    return f"{exc.message}" + (f" (field: {exc.field})" if exc.field else "")


def may_send(order: Order, user, ticket: str, changed: Callable[[], str]) -> bool:  # type: ignore[no-untyped-def]
    """The gate every confirm (a single order's, a roll's) passes first, audited: False for a
    repeat (the order is sent already), OrderRefused when the ticket is not the one the user
    saw previewed (`changed()` says how, to the user; asked only then) or trading is off."""
    audit(order, "confirm", "", user)
    if not order.is_draft:
        audit(order, "duplicate", f"already {order.status}", user)
        return False
    current = order.ticket_digest()
    if not (ticket and hmac.compare_digest(ticket, current) and order.ticket_hash == current):
        audit(order, "refused", "ticket changed since the preview the user saw", user)
        raise OrderRefused(f"Not sent: {changed()}. Check the new preview below and confirm again.")
    if not TradingConfig.load().trading_enabled:
        audit(order, "refused", "trading disabled", user)
        raise OrderRefused("Trading is disabled in settings: the order was not sent.")
    return True


def confirm(order: Order, bridge: SyncBridgeClient, user=None, ticket: str = "") -> Order:  # type: ignore[no-untyped-def]
    """Send a previewed order once, after every check passed again on the order, account and
    quote as they are now. `ticket` is the fingerprint the confirm form carried: the order must
    be the one the user saw previewed. A repeat (double click, replayed POST) sends nothing."""

    def changed() -> str:
        return (
            f"the order changed since the preview you confirmed (it is now "
            f"{order.action} {order.quantity} {order.contract} at {order.limit_price})"
        )

    if not may_send(order, user, ticket, changed):
        return order
    if order.limit_price is None:
        audit(order, "refused", "no limit price", user)
        raise OrderRefused("Not sent: the order has no limit price yet; preview it again.")
    reuse = None
    if order.previewed_at and timezone.now() - order.previewed_at <= QUOTE_FRESH:
        reuse = stored_preview(order, OrderPreview)
    result, failure = _gather(order, bridge, reuse=reuse)
    order.refresh_from_db(fields=["status"])
    if not order.is_draft:  # a concurrent confirm (double click) sent it meanwhile
        audit(order, "duplicate", f"already {order.status}", user)
        return order
    if failure is not None and _not_connected(failure):
        raise _not_sent(order, failure, user)
    _store(order, result)
    audit(order, "preview", f"re-checked at confirm: {result.error or 'ok'}", user)
    if result.blocked:
        names = ", ".join(c.name for c in result.checks if c.level == "block")
        audit(order, "refused", f"blocked by checks: {names}", user)
        raise OrderRefused(f"Blocked by pre-trade checks ({names}): the order was not sent.")
    request = order.to_request()
    return claim_and_send(order, user, bridge, lambda: bridge.place(request), request)


def claim_and_send(
    order: Order,
    user,  # type: ignore[no-untyped-def]
    bridge: SyncBridgeClient,
    place: Callable[[], BridgeOrder],
    request: BaseModel,
    what: str = "order",
) -> Order:
    """The one claim of the row (a conditional UPDATE: of two confirms only one gets it) and
    the one place call, with what each way of failing means for the order. Single orders and
    roll combos both go through here."""
    claimed = move(
        order, Order.SENDING, "confirmed by user", allowed_from=Order.DRAFT, sent_at=timezone.now()
    )
    if not claimed:
        audit(order, "duplicate", f"already {order.status}", user)
        return order
    audit(order, "send", "", user, request=request.model_dump(mode="json"))
    try:
        result = place()
    except ServiceCallError as exc:
        if _not_connected(exc):
            raise _not_sent(order, exc, user) from exc
        if exc.unavailable:
            # Did it reach IB? Ask the bridge's order list; never send it again.
            move(order, Order.UNKNOWN, f"answer lost: {exc.message}", allowed_from={Order.SENDING})
            audit(order, "error", f"answer lost ({exc.message}); reconciling", user)
            reconcile(order, bridge)
            return order
        message = _explain(exc)
        audit(order, "refused", message, user, code=exc.code, status=exc.status)
        if exc.status == 422:
            # Nothing reached IB and the ticket can be fixed (e.g. a limit outside the
            # market): back to preview, same client_order_id.
            move(order, Order.PREVIEWED, message, allowed_from={Order.SENDING})
            raise OrderRefused(
                f"Not sent: {message}. Adjust the {what} and confirm again."
            ) from exc
        move(order, Order.REFUSED, message, allowed_from={Order.SENDING})
        raise OrderRefused(message) from exc
    kind = "combo order" if what == "roll" else "order"
    audit(order, "sent", f"IB {kind} {result.order_id}", user)
    apply_bridge_order(order, result)
    return order


def cancel(order: Order, bridge: SyncBridgeClient, user=None) -> Order:  # type: ignore[no-untyped-def]
    if not order.can_cancel:
        raise OrderRefused(f"This order is {order.get_status_display()}; nothing to cancel.")
    audit(order, "cancel", "", user)
    try:
        result = bridge.cancel(order.ib_order_id)  # type: ignore[arg-type]
    except ServiceCallError as exc:
        message = _explain(exc)
        audit(order, "error", f"cancel failed: {message}", user)
        raise OrderRefused(f"Cancel failed: {message}") from exc
    apply_bridge_order(order, result)
    return order


def positions_to_manage(bridge: SyncBridgeClient) -> list[Position]:
    """Short option positions a user may buy to close or roll."""
    return [p for p in bridge.positions() if p.sec_type == "OPT" and p.quantity < 0]
