"""The roll's pages: the listed candidates and the combo's preview (a roll is ONE order).

Safe HTTP as every order page: GET reads (the candidates come from the bridge's chain),
preparing the draft is a POST.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from wheeldesk.clients import ServiceCallError
from wheeldesk.schemas.orders import ComboPreview

from wheeldesk_web.core import clients
from wheeldesk_web.orders.access import require_trader
from wheeldesk_web.orders.checks import blocked
from wheeldesk_web.orders.models import Order
from wheeldesk_web.orders.services import preview_current, stored_preview
from wheeldesk_web.orders.views import DraftForm, RollTargetForm


@require_http_methods(["GET", "POST"])
def roll_position(request: HttpRequest) -> HttpResponse:
    """Roll = ONE combo order: buy to close the held contract and sell a later one together.
    GET shows the listed candidates (from the chain: later expiries, listed strikes) with each
    one's net credit, new breakeven, added days and APY; POST prepares the combo's draft and
    IB's what-if on it. An unlisted contract cannot be chosen: it is not among the choices,
    and a POST naming one is refused with nothing drafted."""
    from wheeldesk_web.core.clock import broker_today
    from wheeldesk_web.orders import rolls

    require_trader(request.user)
    data = request.POST if request.method == "POST" else request.GET
    form = DraftForm(data)
    if not form.is_valid():
        messages.error(request, f"Cannot prepare that roll: {form.errors.as_text()}")
        return redirect("orders:list")
    d = form.cleaned_data
    symbol = d["symbol"].upper()
    context: dict = {
        "d": d,
        "hidden": [
            (k, v)
            for k, v in data.items()
            if k not in {"new_expiry", "new_strike", "target", "csrfmiddlewaretoken"}
        ],
        "chosen": data.get("target")
        or (
            f"{data.get('new_expiry')}|{data.get('new_strike')}"
            if data.get("new_expiry") and data.get("new_strike")
            else ""
        ),
        "candidates": [],
        "error": "",
    }
    target_form = RollTargetForm(data) if request.method == "POST" else None
    if target_form is not None and "target" in data:
        expiry_s, _, strike_s = str(data.get("target", "")).partition("|")
        target_form = RollTargetForm({"new_expiry": expiry_s, "new_strike": strike_s})
    if target_form is not None and (
        not target_form.is_valid() or target_form.cleaned_data["new_expiry"] <= d["expiry"]
    ):
        context["error"] = "The new contract needs a later expiry and a positive strike."
        messages.error(request, context["error"])
        return render(request, "orders/roll.html", context)
    try:
        with clients.bridge() as bridge:
            held = rolls.held_position(bridge, symbol, d["expiry"], d["strike"], d["right"])
            if held is None:
                context["error"] = (
                    f"No short {symbol} {d['expiry']} {d['strike']:g}{d['right']} is held."
                )
                return render(request, "orders/roll.html", context)
            found = rolls.candidates(bridge, held, broker_today())
            context["candidates"] = found
            context["held"] = held
            quantity = d["quantity"] or int(abs(held.quantity))
            context["quantity"] = quantity
            if target_form is None:
                return render(request, "orders/roll.html", context)
            want = target_form.cleaned_data
            target = rolls.listed(found, want["new_expiry"], want["new_strike"])
            if target is None:
                context["error"] = (
                    f"{symbol} {want['new_expiry']} {want['new_strike']:g}{d['right']} is not "
                    "listed: choose one of the contracts below."
                )
                messages.error(request, context["error"])
                return render(request, "orders/roll.html", context)
            order = rolls.prepare(request.user, held, target, quantity, bridge)
    except ServiceCallError as exc:
        context["error"] = f"Cannot prepare the roll: {exc.message}"
        messages.error(request, context["error"])
        return render(request, "orders/roll.html", context)
    messages.info(
        request, "Roll prepared as one combo order: both legs fill together or not at all."
    )
    return redirect("orders:detail", order.client_order_id)


class RollTicketForm(forms.Form):
    """A roll's quantity and net limit: IB's combo price, negative for a credit."""

    quantity = forms.IntegerField(min_value=1, max_value=1000)
    limit_price = forms.DecimalField(
        min_value=Decimal("-100000"), max_value=Decimal("100000"), max_digits=10, decimal_places=2
    )


def roll_preview(request: HttpRequest, order: Order) -> HttpResponse:
    """A roll's draft: its legs as priced, the combo's market and IB's what-if, one confirm."""
    current, fresh = preview_current(order)
    p = stored_preview(order, ComboPreview) if fresh else None
    form = RollTicketForm(initial={"quantity": order.quantity, "limit_price": order.limit_price})
    return render(
        request,
        "orders/roll_preview.html",
        {
            "order": order,
            "p": p,
            "fresh": fresh,
            "ticket": current,
            "blocked": not fresh or blocked(order.checks),
            "form": form,
        },
    )
