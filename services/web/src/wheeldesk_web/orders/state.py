"""The one writer of an order's state: every status an order takes goes through here.

Paths that learn something about an order — the confirm's claim and the place call's answer,
the worker's `web-orders` JetStream consumer, the worker's sync pass (`sync_working`, the one
reconciliation with the bridge), a cancel's or a re-price's answer — never set `status`
themselves. They hand what they learnt to `move` (Wheeldesk's own states: sending, answer
lost, refused, back to preview) or `apply_bridge_order` (the bridge's view of the order).
Both decide against the row as stored, in one write transaction, so the history is in event
order without repeats whatever order the writers come in:

- a status only moves forward (`RANK`): the stream's "submitted" arriving after the sync
  pass's "filled" changes nothing; a terminal status is final;
- a history row is written only when the status changes (a second partial fill updates the
  filled quantity, it is not a second "partially filled");
- the filled quantity never shrinks, and a price, commission or fill already known is not
  replaced by a view that lacks it.

Pages only read: the status block is re-rendered from the database when the stream says the
order changed (docs/design.md, "Orders").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from wheeldesk.clients import ServiceCallError, SyncBridgeClient
from wheeldesk.schemas.orders import Order as BridgeOrder

from wheeldesk_web.ledger.cycles import dec
from wheeldesk_web.orders.models import Order, OrderAudit, OrderStatusChange
from wheeldesk_web.signals.services import follow_order

log = logging.getLogger(__name__)
LOST_AFTER = timedelta(minutes=15)

# How far along an order is. Drafts (previewed, not sent) come first; then Wheeldesk's own
# "sending" / "answer lost"; then IB's states; every end state last and final.
RANK = {
    Order.PREVIEWED: 0,
    Order.NOT_SENT: 0,
    Order.SENDING: 1,
    Order.UNKNOWN: 1,
    "pending": 2,
    "submitted": 3,
    "partially_filled": 4,
    "filled": 5,
    "cancelled": 5,
    "rejected": 5,
    Order.REFUSED: 5,
}
FINAL = 5


def audit(order: Order | None, action: str, detail: str = "", user=None, **data) -> None:  # type: ignore[no-untyped-def]
    """One row of the order's audit log (who did what, why), for the admin and the order page."""
    OrderAudit.objects.create(
        order=order,
        client_order_id=order.client_order_id if order else "",
        user=user if user is not None and getattr(user, "is_authenticated", False) else None,
        action=action,
        detail=detail[:2000],
        data={k: (str(v) if isinstance(v, Decimal | date) else v) for k, v in data.items()},
    )


def _record(order: Order, status: str, note: str = "") -> None:
    OrderStatusChange.objects.create(order=order, status=status, filled=order.filled, note=note)


def move(
    order: Order,
    status: str,
    message: str = "",
    *,
    allowed_from: Iterable[str],
    **fields: object,
) -> bool:
    """Wheeldesk's own transition (`sending` at the claim, `unknown`, `refused`, `not_sent`,
    back to `previewed` after a fixable refusal), taken only from the states it may follow,
    against the row as stored. True when the order moved. Already in `status`: the message
    is updated, no second history row. `fields` are written with it (the claim's sent_at)."""
    updates: dict[str, object] = {"status": status, "updated": timezone.now(), **fields}
    if message:
        updates["message"] = message
    with transaction.atomic():
        # A conditional UPDATE, not read-then-write: of two writers (two confirms) only one
        # moves the row, on SQLite and on PostgreSQL alike.
        from_states = set(allowed_from) - {status}
        moved = Order.objects.filter(pk=order.pk, status__in=from_states).update(**updates)
        if not moved and message:
            Order.objects.filter(pk=order.pk, status=status).update(message=message)
        order.refresh_from_db()
        if moved:
            _record(order, status, message)
    return bool(moved)


def apply_bridge_order(order: Order, b: BridgeOrder) -> bool:
    """Merge the bridge's view of an order into ours; True when the status changed.

    Every writer of the bridge's view comes here (the place call's answer, a cancel's or a
    modify's answer, the stream's events, the sync pass), in any order: see the module's doc.
    """
    from wheeldesk_web.ledger.services import record_fills

    with transaction.atomic():
        if order.pk:
            # Locked where the database can (PostgreSQL); SQLite's write transaction is.
            Order.objects.select_for_update().filter(pk=order.pk).exists()
            order.refresh_from_db()
        previous = order.status
        incoming = str(b.status.value)
        here = RANK.get(order.status, 0)
        forward = incoming != order.status and here < FINAL and RANK.get(incoming, 0) > here
        order.ib_order_id = b.order_id
        order.perm_id = b.perm_id or order.perm_id
        if forward:
            order.status = incoming
        if b.message and (forward or incoming == order.status):
            order.message = b.message
        order.filled = max(dec(b.filled), dec(order.filled))
        if b.avg_fill_price:
            order.avg_fill_price = dec(b.avg_fill_price)
        fills_commission = sum((dec(f.commission) for f in b.fills if f.commission), Decimal(0))
        commission = dec(b.commission) if b.commission is not None else fills_commission or None
        if commission is not None:
            order.commission = abs(commission)
        if len(b.fills) >= len(order.fills or []):
            order.fills = [f.model_dump(mode="json") for f in b.fills]
        order.save()
        if forward:
            _record(order, order.status, b.message or "")
            audit(order, "status", f"{previous} → {order.status}", filled=str(order.filled))
            follow_order(order)  # the signal it came from: ordered → filled / cancelled
    if b.fills:
        record_fills(b.fills, "bridge")
    return forward


def apply_order_event(b: BridgeOrder) -> Order | None:
    """An `ibkr.order.*` event: update the matching order (orders placed elsewhere are skipped)."""
    order = Order.objects.filter(client_order_id=b.client_order_id).first()
    if order is None:
        return None
    apply_bridge_order(order, b)
    return order


def reconcile(order: Order, bridge: SyncBridgeClient) -> bool:
    """Find a sent order in the bridge's list by client_order_id; True when found."""
    try:
        listed = bridge.orders()
    except ServiceCallError as exc:
        log.info("reconcile %s: bridge unavailable (%s)", order.client_order_id, exc.message)
        return False
    for b in listed:
        if b.client_order_id == order.client_order_id:
            audit(order, "reconcile", f"found as IB order {b.order_id}")
            apply_bridge_order(order, b)
            return True
    return False


def refresh(order: Order, bridge: SyncBridgeClient) -> Order:
    """Bring one working order up to date from the bridge (the sync pass, order by order)."""
    if order.is_terminal or order.is_draft:
        return order
    if order.ib_order_id is None:
        found = reconcile(order, bridge)
        stale = order.sent_at is not None and timezone.now() - order.sent_at > LOST_AFTER
        if not found and stale:
            # IB keeps orderRef on every order, done ones included: absent this long means
            # it never reached IB. Free the contract for a new order.
            message = f"not found at IBKR {LOST_AFTER.seconds // 60} min after sending: not placed"
            if move(order, Order.REFUSED, message, allowed_from={Order.SENDING, Order.UNKNOWN}):
                audit(order, "reconcile", message)
        return order
    try:
        apply_bridge_order(order, bridge.order(order.ib_order_id))
    except ServiceCallError as exc:
        if exc.status == 404:
            reconcile(order, bridge)
        return order
    if order.filled and not order.fills:
        # The bridge's order view carried no fills: take them from its executions.
        from wheeldesk_web.ledger.services import backfill

        try:
            backfill(bridge)
        except ServiceCallError as exc:
            log.info("executions not fetched: %s", exc.message)
    return order


def sync_working(bridge: SyncBridgeClient) -> int:
    """The worker's reconciliation with the bridge: every order still working, brought up to
    date (what the stream missed while the worker was down). How many changed status."""
    changed = 0
    for order in Order.objects.filter(status__in=Order.WORKING):
        before = order.status
        changed += refresh(order, bridge).status != before
    return changed
