"""Who may do what with orders (one place, so every view asks the same question).

- Any signed-in user may view the account, so the account's orders (sent to IBKR) are
  visible to all of them, read-only.
- A draft (previewed, or not sent because IBKR was disconnected) is its creator's alone:
  nobody else sees, edits, previews or confirms it (404, as if it did not exist).
- Trading (preparing, previewing, confirming, cancelling) needs the `orders.trade`
  permission ("trader"); staff have it implicitly. Trading settings need staff.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from wheeldesk_web.orders.models import Order

TRADE_PERMISSION = "orders.trade"


def can_trade(user) -> bool:  # type: ignore[no-untyped-def]
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_staff or user.has_perm(TRADE_PERMISSION))
    )


def require_trader(user) -> None:  # type: ignore[no-untyped-def]
    if not can_trade(user):
        raise PermissionDenied("Trading needs the trader permission; ask an administrator.")


def require_staff(user) -> None:  # type: ignore[no-untyped-def]
    if not (user.is_authenticated and user.is_active and user.is_staff):
        raise PermissionDenied("Trading settings are for staff only.")


def visible(order: Order, user) -> bool:  # type: ignore[no-untyped-def]
    """A draft to its creator; a sent order to everyone who may view the account."""
    return not order.is_draft or (order.user_id is not None and order.user_id == user.pk)


def viewable_order(client_order_id: str, user) -> Order:  # type: ignore[no-untyped-def]
    order = Order.objects.filter(client_order_id=client_order_id).first()
    if order is None or not visible(order, user):
        raise Http404("no such order")
    return order


def own_draft(client_order_id: str, user) -> Order:  # type: ignore[no-untyped-def]
    """The user's own order, to act on (a trader's): anyone else's is 404, a non-trader 403."""
    require_trader(user)
    order = Order.objects.filter(client_order_id=client_order_id, user_id=user.pk).first()
    if order is None:
        raise Http404("no such order")
    return order


def may_cancel(order: Order, user) -> bool:  # type: ignore[no-untyped-def]
    """A trader cancels their own working order; staff any order on the account."""
    return can_trade(user) and (order.user_id == user.pk or user.is_staff)
