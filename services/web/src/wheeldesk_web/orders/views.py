"""Order pages: thin views over `orders.services`.

Safe HTTP: a GET only reads. Preparing a draft, previewing it (IBKR's what-if, stored with
the order), updating, confirming and cancelling are POSTs; a link (a signal's "Preview order",
a position's close/roll) opens a page that says what will be prepared and posts it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from wheeldesk.clients import ServiceCallError

from wheeldesk_web.core import clients
from wheeldesk_web.core.ids import strict_id
from wheeldesk_web.orders import services
from wheeldesk_web.orders.access import (
    can_trade,
    may_cancel,
    own_draft,
    require_staff,
    require_trader,
    viewable_order,
)
from wheeldesk_web.orders.checks import blocked
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


@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    """The account's orders (every user who may view the account) and the user's own
    not-sent drafts; nobody else's drafts."""
    orders = (
        Order.objects.exclude(status=Order.PREVIEWED)
        .filter(~Q(status=Order.NOT_SENT) | Q(user_id=request.user.pk))
        .prefetch_related("history")[:200]
    )
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
            "can_trade": can_trade(request.user),
        },
    )


def _own_signal(request: HttpRequest, raw: str):  # type: ignore[no-untyped-def]
    """The user's own signal (or one of a shared, scheduled scan); anyone else's is 404."""
    from wheeldesk_web.signals.models import Signal

    pk = strict_id(raw)
    if pk is None:
        raise Http404("no such signal")
    mine = Q(scan__user=request.user) | Q(scan__user__isnull=True)
    return get_object_or_404(Signal.objects.filter(mine), pk=pk)


def _draft_fields(request: HttpRequest, data: QueryDict) -> dict | HttpResponse:
    """The draft a query or form describes, or the response that refuses it."""
    signal_id = data.get("signal")
    if signal_id:
        s = _own_signal(request, signal_id)
        if s.kind == "ROLL":
            return _roll_from_signal(request, s)
        action = "BUY" if s.kind == "CLOSE" else "SELL"
        return {
            "symbol": s.symbol,
            "expiry": s.expiry,
            "strike": Decimal(str(s.strike)),
            "right": s.right,
            "action": action,
            "quantity": s.quantity or 1,  # a CC: the uncovered lots; a CLOSE: the contracts held
            "limit_price": _round(s.premium if action == "SELL" else (s.ask or s.premium)),
            "intent": "close" if s.kind == "CLOSE" else "open",
            "signal_id": s.pk,
        }
    form = DraftForm(data)
    if not form.is_valid():
        messages.error(request, f"Cannot prepare that order: {form.errors.as_text()}")
        return redirect("orders:list")
    d = form.cleaned_data
    action = d["action"] or "SELL"
    return {
        "symbol": d["symbol"].upper(),
        "expiry": d["expiry"],
        "strike": d["strike"],
        "right": d["right"],
        "action": action,
        "quantity": d["quantity"] or 1,
        "limit_price": d["limit_price"],
        "intent": "close" if action == "BUY" else "open",
    }


@require_http_methods(["GET", "POST"])
def new_order(request: HttpRequest) -> HttpResponse:
    """GET (a signal's link `?signal=<id>`, or a contract in the query): the page that says
    what will be prepared, writing nothing. POST: the draft, previewed, then its page."""
    require_trader(request.user)
    data = request.POST if request.method == "POST" else request.GET
    fields = _draft_fields(request, data)
    if isinstance(fields, HttpResponse):
        return fields
    if request.method == "GET":
        hidden = [(k, v) for k, v in data.items() if k != "csrfmiddlewaretoken"]
        return render(request, "orders/new.html", {"d": fields, "hidden": hidden})
    order = services.create_draft(request.user, **fields)
    with clients.bridge() as bridge:
        services.run_preview(order, bridge, request.user)
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


@require_http_methods(["GET", "POST"])
def close_position(request: HttpRequest) -> HttpResponse:
    """Buy to close a held short option (the same page and POST as a new order)."""
    data = (request.POST if request.method == "POST" else request.GET).copy()
    data["action"] = "BUY"
    if request.method == "POST":
        request.POST = data  # type: ignore[misc]
    else:
        request.GET = data  # type: ignore[misc]
    return new_order(request)


def _legs(order: Order, user) -> list[Order]:  # type: ignore[no-untyped-def]
    if not order.roll_group:
        return []
    return list(
        Order.objects.filter(roll_group=order.roll_group)
        .exclude(pk=order.pk)
        .filter(~Q(status__in=Order.DRAFT) | Q(user_id=user.pk))
    )


@require_GET
def detail(request: HttpRequest, client_order_id: str) -> HttpResponse:
    """Reads only: a draft shows its stored preview (previewing is a POST), a sent order
    its status as the worker last stored it (the stream re-renders it live)."""
    order = viewable_order(client_order_id, request.user)
    legs = _legs(order, request.user)
    if not order.is_draft:
        context = {
            "order": order,
            "legs": legs,
            "may_cancel": may_cancel(order, request.user),
            "reprices": order.audit.filter(action="modify").order_by("at", "id"),
        }
        return render(request, "orders/detail.html", context)
    if order.is_combo:
        from wheeldesk_web.orders.roll_views import roll_preview

        return roll_preview(request, order)
    current, fresh = services.preview_current(order)
    what_if_error = next(
        (c["message"] for c in order.checks if c.get("name") == "What-if" and fresh), ""
    )
    form = TicketForm(initial={"quantity": order.quantity, "limit_price": order.limit_price})
    return render(
        request,
        "orders/preview.html",
        {
            "order": order,
            "p": order.preview if fresh else {},
            "fresh": fresh,
            "ticket": current,
            "blocked": not fresh or blocked(order.checks),
            "preview_error": what_if_error,
            "form": form,
            "legs": legs,
        },
    )


def _previewed(request: HttpRequest, order: Order) -> HttpResponse:
    """The draft's what-if and checks run again (a fresh quote), then its page."""
    with clients.bridge() as bridge:
        services.preview_draft(order, bridge, request.user)
    return redirect("orders:detail", order.client_order_id)


@require_POST
def preview(request: HttpRequest, client_order_id: str) -> HttpResponse:
    """Run the what-if and the checks again (a fresh quote), on the user's own draft."""
    order = own_draft(client_order_id, request.user)
    if not order.is_draft:
        return redirect("orders:detail", order.client_order_id)
    return _previewed(request, order)


@require_POST
def update(request: HttpRequest, client_order_id: str) -> HttpResponse:
    """New quantity / limit on the user's own draft, previewed again at once."""
    order = own_draft(client_order_id, request.user)
    if not order.is_draft:
        messages.error(request, "This order was already sent; it cannot be edited.")
        return redirect("orders:detail", order.client_order_id)
    if order.is_combo:
        from wheeldesk_web.orders.roll_views import RollTicketForm

        form: forms.Form = RollTicketForm(request.POST)
    else:
        form = TicketForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not updated: {form.errors.as_text()}")
        return redirect("orders:detail", order.client_order_id)
    order.quantity = form.cleaned_data["quantity"]
    order.limit_price = form.cleaned_data["limit_price"]
    order.save(update_fields=["quantity", "limit_price", "updated"])
    return _previewed(request, order)


@require_POST
def confirm(request: HttpRequest, client_order_id: str) -> HttpResponse:
    from wheeldesk_web.orders.reprice import AutoRepriceForm

    order = own_draft(client_order_id, request.user)
    plan = AutoRepriceForm(request.POST)
    if not plan.is_valid():
        messages.error(request, f"Not sent: {plan.problem()}.")
        return redirect("orders:detail", order.client_order_id)
    if order.is_draft and not order.is_combo:
        plan.store(order)
    try:
        with clients.bridge(timeout=20) as bridge:
            ticket = request.POST.get("ticket", "")
            order = services.confirm_draft(order, bridge, request.user, ticket=ticket)
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


def _changeable(request: HttpRequest, client_order_id: str, verb: str) -> Order:
    """A sent order the user may cancel or re-price (`may_cancel`): 403 saying who may."""
    require_trader(request.user)
    order = viewable_order(client_order_id, request.user)
    if not may_cancel(order, request.user):
        raise PermissionDenied(f"Only the order's creator or staff may {verb} it.")
    return order


@require_POST
def cancel(request: HttpRequest, client_order_id: str) -> HttpResponse:
    """A trader cancels their own working order; staff may cancel any on the account."""
    order = _changeable(request, client_order_id, "cancel")
    try:
        with clients.bridge() as bridge:
            services.cancel(order, bridge, request.user)
        messages.success(request, "Cancel requested.")
    except services.OrderRefused as exc:
        messages.error(request, exc.message)
    return redirect("orders:detail", order.client_order_id)


@require_POST
def reprice(request: HttpRequest, client_order_id: str) -> HttpResponse:
    """One step toward the bid (a sell) or the ask (a buy): IB's modify of the same order."""
    from wheeldesk_web.orders import reprice as repricing

    order = _changeable(request, client_order_id, "re-price")
    try:
        step = Decimal(request.POST.get("step") or repricing.DEFAULT_STEP)
        if not step.is_finite() or step <= 0 or step > 100:
            raise InvalidOperation
    except InvalidOperation:
        messages.error(request, "Not re-priced: step must be a price between 0 and 100.")
        return redirect("orders:detail", order.client_order_id)
    try:
        with clients.bridge() as bridge:
            repricing.reprice(order, bridge, request.user, step.quantize(Decimal("0.01")))
        messages.success(request, f"Re-priced to {order.limit_price} (same order at IBKR).")
    except services.OrderRefused as exc:
        messages.error(request, exc.message)
    return redirect("orders:detail", order.client_order_id)


@require_GET
def status(request: HttpRequest, client_order_id: str) -> HttpResponse:
    """The status block as stored (htmx re-reads it when the stream says it changed): the
    worker, not a page, brings orders up to date from IBKR."""
    order = viewable_order(client_order_id, request.user)
    context = {"order": order, "may_cancel": may_cancel(order, request.user)}
    return render(request, "orders/partials/status.html", context)


@require_http_methods(["GET", "POST"])
def trading_settings(request: HttpRequest) -> HttpResponse:
    require_staff(request.user)
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
