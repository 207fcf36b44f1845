"""Re-price a working order one step toward the other side of the market, as IB's modify of
the same order (thetagang's way of chasing an unfilled order), never a second order.

A sell steps down toward the bid, a buy (a roll's combo included) steps up toward the ask, by
a step the user sets. Every step is audited (`modify`: from, to, step) and shown on the order
page; the bridge checks the new price against the contract's tick.
"""

from __future__ import annotations

from decimal import Decimal

from wheeldesk.clients import ServiceCallError, SyncBridgeClient
from wheeldesk.schemas.orders import OrderModify

from wheeldesk_web.orders.models import Order
from wheeldesk_web.orders.services import OrderRefused, _explain
from wheeldesk_web.orders.state import apply_bridge_order, audit

DEFAULT_STEP = Decimal("0.05")  # a multiple of every US option tick under $3


def next_limit(order: Order, step: Decimal) -> Decimal:
    """One step toward the side that fills: down for a sell, up for a buy."""
    assert order.limit_price is not None
    return order.limit_price - step if order.action == "SELL" else order.limit_price + step


def reprice(order: Order, bridge: SyncBridgeClient, user, step: Decimal) -> Order:  # type: ignore[no-untyped-def]
    if not order.can_cancel:  # working at IBKR: pending, submitted or partially filled
        raise OrderRefused(f"This order is {order.get_status_display()}: nothing to re-price.")
    if order.limit_price is None or order.order_type != "LMT":
        raise OrderRefused("Only a limit order can be re-priced.")
    if step <= 0:
        raise OrderRefused("The step must be greater than 0.")
    old = order.limit_price
    new = next_limit(order, step)
    if not order.is_combo and new <= 0:
        raise OrderRefused(f"A step of {step} would take the limit to {new}: not re-priced.")
    try:
        result = bridge.modify(order.ib_order_id, OrderModify(limit_price=new))
    except ServiceCallError as exc:
        message = _explain(exc)
        audit(order, "error", f"re-price {old} → {new} failed: {message}", user)
        raise OrderRefused(f"Not re-priced: {message}") from exc
    Order.objects.filter(pk=order.pk).update(limit_price=new)
    order.limit_price = new
    audit(
        order,
        "modify",
        f"re-priced {old:.2f} → {new:.2f}",
        user,
        old=str(old),
        new=str(new),
        step=str(step),
    )
    apply_bridge_order(order, result)
    return order
