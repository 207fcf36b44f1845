"""Re-price a working order one step toward the other side of the market, as IB's modify of
the same order (thetagang's way of chasing an unfilled order), never a second order.

A sell steps down toward the bid, a buy (a roll's combo included) steps up toward the ask, by
a step the user sets. Every step is audited (`modify`: from, to, step) and shown on the order
page; the bridge checks the new price against the contract's tick.

An order may also be re-priced automatically (opted into at confirm): every N minutes the
worker asks the bridge for one step toward the market — on the contract's tick grid and never
past the far side, which only the bridge knows — up to M steps, each audited as "auto re-price".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django import forms
from django.db.models import F
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


# ---- automatic re-price (opted into per order at confirm) ------------------------------------
AUTO = "auto re-price"
WORKING_AT_IB = ("pending", "submitted", "partially_filled")


def due(now: datetime) -> list[Order]:
    """Working orders whose next automatic step has come: N minutes after the last step (or
    after sending), and steps left. A filled or cancelled order is no longer working."""
    candidates = Order.objects.filter(
        status__in=WORKING_AT_IB,
        reprice_every__isnull=False,
        reprice_step__isnull=False,
        ib_order_id__isnull=False,
        reprice_done__lt=F("reprice_max"),
    )
    return [
        o
        for o in candidates
        if (last := o.repriced_at or o.sent_at) is not None
        and now >= last + timedelta(minutes=o.reprice_every or 0)
    ]


def auto_step(order: Order, bridge: SyncBridgeClient, now: datetime) -> bool:
    """One automatic step: the bridge takes `reprice_step` toward the market on the contract's
    tick grid and never past the far side; True when the order was modified. At the far side
    already (409) the plan ends; another failure is retried at the next due time."""
    old = order.limit_price
    step = order.reprice_step
    try:
        result = bridge.modify(order.ib_order_id, OrderModify(step=step))  # type: ignore[arg-type]
    except ServiceCallError as exc:
        message = _explain(exc)
        if exc.status == 409:  # no step left (at the bid / ask) or no longer working
            Order.objects.filter(pk=order.pk).update(reprice_done=F("reprice_max"))
            audit(order, "modify", f"{AUTO} stopped at {old}: {message}", by=AUTO)
        else:
            Order.objects.filter(pk=order.pk).update(repriced_at=now)
            audit(order, "error", f"{AUTO} from {old} failed: {message}", by=AUTO)
        return False
    new = Decimal(str(getattr(result.request, "limit_price", None) or old))
    done = order.reprice_done + 1
    Order.objects.filter(pk=order.pk).update(limit_price=new, reprice_done=done, repriced_at=now)
    order.limit_price, order.reprice_done, order.repriced_at = new, done, now
    audit(
        order,
        "modify",
        f"re-priced {old:.2f} → {new:.2f} by {AUTO} (step {done} of {order.reprice_max})",
        old=str(old),
        new=str(new),
        step=str(step),
        by=AUTO,
    )
    apply_bridge_order(order, result)
    return True


def run_due(bridge: SyncBridgeClient, now: datetime) -> int:
    """The worker's pass (`Worker.tick`): every due order stepped once; how many were."""
    return sum(auto_step(order, bridge, now) for order in due(now))


class AutoRepriceForm(forms.Form):
    """The confirm form's opt-in: "re-price automatically every N minutes, up to M steps"."""

    auto_reprice = forms.BooleanField(required=False)
    reprice_every = forms.IntegerField(min_value=1, max_value=240, required=False)
    reprice_max = forms.IntegerField(min_value=1, max_value=20, required=False)
    reprice_step = forms.DecimalField(
        min_value=Decimal("0.01"), max_value=Decimal("100"), decimal_places=2, required=False
    )
    NAMES = {
        "reprice_every": "every (minutes)",
        "reprice_max": "up to (steps)",
        "reprice_step": "step",
    }

    def clean(self) -> dict:
        data = super().clean()
        if data.get("auto_reprice"):
            for name in self.NAMES:
                if data.get(name) is None and name not in self.errors:
                    self.add_error(name, "required to re-price automatically")
        return data

    def problem(self) -> str:
        """The first bad field, named as the form shows it."""
        name, errors = next(iter(self.errors.items()))
        return f"Automatic re-price {self.NAMES.get(name, name)}: {errors[0]}"

    def store(self, order: Order) -> None:
        """Kept with the draft (confirm sends it): off clears a plan set by an earlier confirm."""
        data = self.cleaned_data
        on = bool(data.get("auto_reprice"))
        order.reprice_every = data["reprice_every"] if on else None
        order.reprice_max = data["reprice_max"] if on else 0
        order.reprice_step = data["reprice_step"] if on else None
        order.save(update_fields=["reprice_every", "reprice_max", "reprice_step", "updated"])
