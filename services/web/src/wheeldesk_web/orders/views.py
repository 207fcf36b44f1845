"""Order pages: thin views over `orders.services`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from wheeldesk.clients import ServiceCallError

from wheeldesk_web.core import clients
from wheeldesk_web.orders import services
from wheeldesk_web.orders.models import Order, OrderAudit, TradingConfig


class TicketForm(forms.Form):
    quantity = forms.IntegerField(
        min_value=1, max_value=1000, widget=forms.NumberInput(attrs={"class": "input"})
    )
    limit_price = forms.DecimalField(min_value=Decimal("0.01"), max_digits=10, decimal_places=2)


class DraftForm(forms.Form):
    """A contract from query parameters (a signal link, a position's close/roll buttons)."""

    symbol = forms.RegexField(regex=r"^[A-Za-z.]{1,12}$")
    expiry = forms.DateField()
    strike = forms.DecimalField(min_value=Decimal("0.01"), max_digits=10, decimal_places=3)
    right = forms.ChoiceField(choices=[("P", "P"), ("C", "C")])
    action = forms.ChoiceField(choices=[("SELL", "SELL"), ("BUY", "BUY")], required=False)
    quantity = forms.IntegerField(min_value=1, max_value=1000, required=False)
    limit_price = forms.DecimalField(
        min_value=Decimal("0.01"), max_digits=10, decimal_places=2, required=False
    )


class RollTargetForm(forms.Form):
    """The contract a roll moves to: the same bounds as a draft's (no Infinity, no 15 digits)."""

    new_expiry = forms.DateField()
    new_strike = forms.DecimalField(min_value=Decimal("0.01"), max_digits=10, decimal_places=3)


class TradingConfigForm(forms.ModelForm):
    class Meta:
        model = TradingConfig
        exclude: list[str] = []


def _round(x: float | Decimal | None) -> Decimal | None:
    if x is None:
        return None
    try:
        value = Decimal(str(x)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    return value if value > 0 else None


def order_list(request: HttpRequest) -> HttpResponse:
    orders = Order.objects.exclude(status=Order.PREVIEWED).prefetch_related("history")[:200]
    shorts, error, account = [], "", None
    try:
        with clients.bridge() as bridge:
            account = bridge.account()
            shorts = services.positions_to_manage(bridge)
    except ServiceCallError as exc:
        error = exc.message
    return render(
        request,
        "orders/list.html",
        {
            "orders": orders,
            "shorts": shorts,
            "bridge_error": error,
            "account": account,
            "config": TradingConfig.load(),
        },
    )


def new_order(request: HttpRequest) -> HttpResponse:
    """From a signal (`?signal=<id>`) or a contract in the query: a draft, then its preview."""
    signal_id = request.GET.get("signal")
    if signal_id:
        from wheeldesk_web.signals.models import Signal

        if not signal_id.isdigit():
            raise Http404("no such signal")
        s = get_object_or_404(Signal, pk=int(signal_id))
        if s.kind == "ROLL":
            return _roll_from_signal(request, s)
        action = "BUY" if s.kind == "CLOSE" else "SELL"
        fields = {
            "symbol": s.symbol,
            "expiry": s.expiry,
            "strike": Decimal(str(s.strike)),
            "right": s.right,
            "action": action,
            "quantity": 1,
            "limit_price": _round(s.premium if action == "SELL" else (s.ask or s.premium)),
            "intent": "close" if s.kind == "CLOSE" else "open",
            "signal_id": s.pk,
        }
    else:
        form = DraftForm(request.GET)
        if not form.is_valid():
            messages.error(request, f"Cannot prepare that order: {form.errors.as_text()}")
            return redirect("orders:list")
        d = form.cleaned_data
        action = d["action"] or "SELL"
        fields = {
            "symbol": d["symbol"].upper(),
            "expiry": d["expiry"],
            "strike": d["strike"],
            "right": d["right"],
            "action": action,
            "quantity": d["quantity"] or 1,
            "limit_price": d["limit_price"],
            "intent": "close" if action == "BUY" else "open",
        }
    order = services.create_draft(request.user, **fields)
    return redirect("orders:detail", order.client_order_id)


def _roll_from_signal(request: HttpRequest, s) -> HttpResponse:  # type: ignore[no-untyped-def]
    """A roll signal names the new contract; the leg to close is the short held today."""
    from urllib.parse import urlencode

    try:
        with clients.bridge() as bridge:
            held = [
                p
                for p in services.positions_to_manage(bridge)
                if p.symbol == s.symbol and p.right == s.right and p.expiry and p.expiry < s.expiry
            ]
    except ServiceCallError as exc:
        messages.error(request, f"Cannot prepare the roll: {exc.message}")
        return redirect("signals:detail", s.pk)
    if not held:
        messages.error(request, f"No short {s.symbol} {s.right} held to roll from.")
        return redirect("signals:detail", s.pk)
    p = min(held, key=lambda p: p.expiry)
    query = urlencode(
        {
            "symbol": p.symbol,
            "expiry": p.expiry.isoformat(),
            "strike": p.strike,
            "right": p.right,
            "quantity": int(abs(p.quantity)),
            "new_expiry": s.expiry.isoformat(),
            "new_strike": s.strike,
        }
    )
    return redirect(f"{reverse('orders:roll')}?{query}")


def close_position(request: HttpRequest) -> HttpResponse:
    """Buy to close a held short option."""
    query = request.GET.copy()
    query["action"] = "BUY"
    request.GET = query  # type: ignore[misc]
    return new_order(request)


def roll_position(request: HttpRequest) -> HttpResponse:
    """Roll = buy to close the held contract + sell a later one, each previewed and confirmed."""
    form = DraftForm(request.GET)
    new_expiry = request.GET.get("new_expiry", "")
    new_strike = request.GET.get("new_strike", "")
    if not form.is_valid():
        messages.error(request, f"Cannot prepare that roll: {form.errors.as_text()}")
        return redirect("orders:list")
    d = form.cleaned_data
    if not new_expiry or not new_strike:
        return render(request, "orders/roll.html", {"d": d, "query": request.GET.urlencode()})
    target = RollTargetForm(request.GET)
    if not target.is_valid() or target.cleaned_data["new_expiry"] <= d["expiry"]:
        messages.error(request, "The new contract needs a later expiry and a positive strike.")
        return render(request, "orders/roll.html", {"d": d, "query": request.GET.urlencode()})
    expiry, strike = target.cleaned_data["new_expiry"], target.cleaned_data["new_strike"]
    qty = d["quantity"] or 1
    close = services.create_draft(
        request.user,
        symbol=d["symbol"].upper(),
        expiry=d["expiry"],
        strike=d["strike"],
        right=d["right"],
        action="BUY",
        quantity=qty,
        limit_price=None,
        intent="roll",
    )
    services.create_draft(
        request.user,
        symbol=d["symbol"].upper(),
        expiry=expiry,
        strike=strike,
        right=d["right"],
        action="SELL",
        quantity=qty,
        limit_price=None,
        intent="roll",
        roll_group=close.client_order_id,
    )
    close.roll_group = close.client_order_id
    close.save(update_fields=["roll_group"])
    messages.info(
        request, "Roll prepared as two orders: buy to close first, then sell the new one."
    )
    return redirect("orders:detail", close.client_order_id)


def _order(client_order_id: str) -> Order:
    return get_object_or_404(Order, client_order_id=client_order_id)


def detail(request: HttpRequest, client_order_id: str) -> HttpResponse:
    order = _order(client_order_id)
    legs = (
        Order.objects.filter(roll_group=order.roll_group).exclude(pk=order.pk)
        if order.roll_group
        else []
    )
    if order.status != Order.PREVIEWED:
        with clients.bridge() as bridge:
            services.refresh(order, bridge)
        return render(request, "orders/detail.html", {"order": order, "legs": legs})
    with clients.bridge() as bridge:
        result = services.run_preview(order, bridge, request.user)
    form = TicketForm(initial={"quantity": order.quantity, "limit_price": order.limit_price})
    return render(
        request,
        "orders/preview.html",
        {"order": order, "result": result, "p": result.preview, "form": form, "legs": legs},
    )


@require_POST
def update(request: HttpRequest, client_order_id: str) -> HttpResponse:
    order = _order(client_order_id)
    if order.status != Order.PREVIEWED:
        messages.error(request, "This order was already sent; it cannot be edited.")
        return redirect("orders:detail", order.client_order_id)
    form = TicketForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not updated: {form.errors.as_text()}")
    else:
        order.quantity = form.cleaned_data["quantity"]
        order.limit_price = form.cleaned_data["limit_price"]
        order.save(update_fields=["quantity", "limit_price", "updated"])
    return redirect("orders:detail", order.client_order_id)


@require_POST
def confirm(request: HttpRequest, client_order_id: str) -> HttpResponse:
    order = _order(client_order_id)
    try:
        with clients.bridge(timeout=20) as bridge:
            order = services.confirm(order, bridge, request.user)
    except services.OrderRefused as exc:
        messages.error(request, exc.message)
        return redirect("orders:detail", order.client_order_id)
    if order.status == Order.UNKNOWN:
        messages.warning(
            request, "The bridge did not answer in time; checking IBKR's order list (not re-sent)."
        )
    else:
        messages.success(request, f"Order sent: {order}.")
    return redirect("orders:detail", order.client_order_id)


@require_POST
def cancel(request: HttpRequest, client_order_id: str) -> HttpResponse:
    order = _order(client_order_id)
    try:
        with clients.bridge() as bridge:
            services.cancel(order, bridge, request.user)
        messages.success(request, "Cancel requested.")
    except services.OrderRefused as exc:
        messages.error(request, exc.message)
    return redirect("orders:detail", order.client_order_id)


def status(request: HttpRequest, client_order_id: str) -> HttpResponse:
    """The live status block (htmx polls it until the order is final)."""
    order = _order(client_order_id)
    with clients.bridge() as bridge:
        services.refresh(order, bridge)
    return render(request, "orders/partials/status.html", {"order": order})


def trading_settings(request: HttpRequest) -> HttpResponse:
    cfg = TradingConfig.load()
    form = TradingConfigForm(request.POST or None, instance=cfg)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            services.audit(
                None,
                "config",
                str(cfg),
                request.user,
                **{k: str(v) for k, v in form.cleaned_data.items()},
            )
            messages.success(request, f"Trading settings saved: {cfg}.")
            return redirect("orders:settings")
        messages.error(request, "Not saved: fix the fields marked below.")
    recent = OrderAudit.objects.select_related("user")[:20]
    return render(request, "orders/settings.html", {"form": form, "config": cfg, "recent": recent})
