"""The pre-trade checks of a roll: the same checks a single order gets, on what the roll does.

A roll (one combo: buy to close the held short option, sell to open a later one) is checked as
the position it leaves behind: the book with the closed leg gone, plus the new short leg. So
the collateral, covered-call, concentration and cash-reserve checks count the leg being
closed as freed (a roll to the same strike needs no new cash), the caps and the events check
look at the new leg, "one working order" looks at both legs, and the limit is compared with
the combo's own market (IB's sign: negative = a credit) from the what-if. The bridge's
warnings (live account refused, market closed: the order rests until the open) are shown with
them; `rolls.run_preview` runs them at preview and again at confirm.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.orders import ComboLeg, ComboPreview
from wheeldesk.schemas.orders import Order as BridgeOrder

from wheeldesk_web.ledger.cycles import dec
from wheeldesk_web.orders.checks import (
    Check,
    Limits,
    Ticket,
    _pct,
    _usd,
    check_caps,
    check_cash_reserve,
    check_collateral,
    check_concentration,
    check_covered,
    check_events,
    check_one_working,
    check_trading_enabled,
)
from wheeldesk_web.orders.models import Order
from wheeldesk_web.signals import capacity


def _legs(order: Order) -> tuple[ComboLeg, ComboLeg]:
    legs = [ComboLeg.model_validate(leg) for leg in order.legs]
    closing = next(leg for leg in legs if leg.action == "BUY")
    opening = next(leg for leg in legs if leg.action == "SELL")
    return closing, opening


def _leg_ticket(order: Order, leg: ComboLeg) -> Ticket:
    return Ticket(
        symbol=order.symbol,
        action=leg.action,
        quantity=order.quantity * leg.ratio,
        limit_price=None,
        right=leg.right,
        strike=Decimal(str(leg.strike)),
        expiry=leg.expiry,
    )


def after_close(positions: list[Position], order: Order, closing: ComboLeg) -> list[Position]:
    """The positions once the closing leg has bought back `quantity` of the held short."""
    out = []
    for p in positions:
        if (
            p.symbol == order.symbol
            and p.sec_type == "OPT"
            and p.quantity < 0
            and p.expiry == closing.expiry
            and p.right == closing.right
            and p.strike is not None
            and abs(p.strike - closing.strike) < 1e-9
        ):
            p = p.model_copy(update={"quantity": min(p.quantity + order.quantity, 0)})
        out.append(p)
    return out


def check_roll_limit(limit: Decimal | None, preview: ComboPreview | None, limits: Limits) -> Check:
    """The net limit against the combo's natural market (a BUY combo: paying more, or taking
    less credit, is the worse side). Inside bid..ask always passes; percentages are of |mid|,
    as for a single order."""
    if limit is None:
        return Check("Limit vs mid", "block", "No net limit (no market to price the roll from).")
    mid = dec(preview.mid) if preview is not None and preview.mid is not None else None
    nums = {"net limit": _usd(limit)}
    if mid is None or mid == 0:
        return Check("Limit vs mid", "warn", "No current combo mid to compare with.", nums)
    bid = dec(preview.bid) if preview is not None and preview.bid is not None else None
    ask = dec(preview.ask) if preview is not None and preview.ask is not None else None
    worse = (limit - mid) / abs(mid) * 100
    nums.update({"combo mid": _usd(mid), "away from mid": f"{worse:+.1f}%"})
    inside = bid is not None and ask is not None and bid <= limit <= ask
    if abs(worse) >= limits.limit_block_pct and not inside:
        return Check(
            "Limit vs mid",
            "block",
            f"Net limit is {abs(worse):.1f}% from the combo's mid "
            f"(block at {_pct(limits.limit_block_pct)}%).",
            nums,
        )
    if worse >= limits.limit_warn_pct:
        return Check(
            "Limit vs mid",
            "warn",
            f"Net limit gives up {worse:.1f}% versus the combo's mid "
            f"(warn at {_pct(limits.limit_warn_pct)}%).",
            nums,
        )
    return Check("Limit vs mid", "pass", "Net limit is within the band around the mid.", nums)


def roll_checks(
    order: Order,
    *,
    preview: ComboPreview | None,
    account: Account | None,
    positions: list[Position],
    working: list[tuple],
    bridge_orders: list[BridgeOrder],
    limits: Limits,
    earnings: date | None,
    ex_dividend: date | None,
    today: date,
) -> list[Check]:
    """Every check of a single order, on the roll (see the module's doc)."""
    closing, opening = _legs(order)
    new = _leg_ticket(order, opening)
    left = after_close(positions, order, closing)
    cap = capacity.compute(
        account,
        left,
        capacity.working_sell_puts(bridge_orders, exclude_client_ids=[order.client_order_id]),
    )
    # The combo's cash: a BUY at net L pays L per share (a negative L is a credit received).
    net = order.limit_price
    cash_ticket = replace(new, limit_price=-net if net is not None else None)
    legs_working = [
        check_one_working(_leg_ticket(order, leg), working) for leg in (closing, opening)
    ]
    one_working = next((c for c in legs_working if c.level == "block"), legs_working[0])
    return [
        check_trading_enabled(limits),
        check_collateral(new, None, account, cap),
        check_covered(new, left),
        check_roll_limit(net, preview, limits),
        check_caps(new, limits),
        one_working,
        check_concentration(new, left, account, limits),
        check_cash_reserve(cash_ticket, account, left, limits),
        check_events(new, earnings, ex_dividend, today),
    ]
