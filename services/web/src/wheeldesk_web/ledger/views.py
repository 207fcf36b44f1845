"""Ledger pages: every cycle (filterable), one cycle's timeline, monthly premium, imports."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from wheeldesk_web.ledger import services
from wheeldesk_web.ledger.charts import premium_bars
from wheeldesk_web.ledger.cycles import build_cycles, monthly_premium, summarise
from wheeldesk_web.ledger.flex import MAX_BYTES, FlexError
from wheeldesk_web.ledger.models import Adjustment, WheelCycle


class FlexUploadForm(forms.Form):
    file = forms.FileField(help_text="IBKR Flex Query trade report, XML.")


class AdjustmentForm(forms.ModelForm):
    class Meta:
        model = Adjustment
        fields = ["kind", "symbol", "time", "quantity", "price", "amount", "note"]
        widgets = {"time": forms.DateTimeInput(attrs={"type": "datetime-local"})}

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "input")

    def clean_symbol(self) -> str:
        symbol = self.cleaned_data["symbol"].strip().upper()
        if not symbol.replace(".", "").isalpha():
            raise forms.ValidationError("Letters only, e.g. KO or BRK.B.")
        return symbol

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        kind = data.get("kind")
        if kind == "lot" and (not data.get("quantity") or data["quantity"] <= 0):
            self.add_error("quantity", "A lot needs a positive number of shares.")
        if kind == "lot" and (data.get("price") is None or data["price"] <= 0):
            self.add_error("price", "A lot needs its cost per share.")
        if kind == "dividend" and (not data.get("amount") or data["amount"] <= 0):
            self.add_error("amount", "A dividend needs the cash amount received.")
        return data


def cycles(request: HttpRequest) -> HttpResponse:
    qs = WheelCycle.objects.all()
    symbol = request.GET.get("symbol", "").strip().upper()
    state = request.GET.get("state", "")
    if symbol:
        qs = qs.filter(symbol=symbol)
    if state == "open":
        qs = qs.exclude(state="closed")
    elif state == "closed":
        qs = qs.filter(state="closed")
    events = services.events_for([symbol] if symbol else None)
    summary = summarise(build_cycles(events))
    months = monthly_premium(events)
    return render(
        request,
        "ledger/cycles.html",
        {
            "cycles": qs,
            "summary": summary,
            "symbol": symbol,
            "state": state,
            "symbols": WheelCycle.objects.values_list("symbol", flat=True).distinct(),
            "chart": mark_safe(premium_bars(months)),  # built from numbers and YYYY-MM only
            "months": months,
            "this_month": services.premium_collected_this_month(),
            "flex_form": FlexUploadForm(),
            "adj_form": AdjustmentForm(initial={"time": timezone.localtime()}),
        },
    )


def cycle(request: HttpRequest, key: str) -> HttpResponse:
    row = WheelCycle.objects.filter(key=key).first()
    if row is None:
        raise Http404("no such cycle")
    match = next((c for c in services.cycles_for(row.symbol) if c.key == key), None)
    if match is None:
        raise Http404("cycle changed; reload the ledger")
    timeline, running = [], Decimal(0)
    for e in match.events:
        if e.sec_type == "OPT":
            running += e.cash
        timeline.append({"e": e, "cash": e.cash, "running": running})
    return render(request, "ledger/cycle.html", {"row": row, "c": match, "timeline": timeline})


@require_POST
def sync(request: HttpRequest) -> HttpResponse:
    """Fetch the bridge's executions now (the worker does this from NATS as they happen)."""
    from wheeldesk.clients import ServiceCallError

    from wheeldesk_web.core import clients

    try:
        with clients.bridge(timeout=20) as bridge:
            added = services.backfill(bridge)
    except ServiceCallError as exc:
        messages.error(request, f"Could not fetch executions: {exc.message}")
        return redirect("ledger:cycles")
    messages.success(request, f"Fetched executions from IBKR: {added} new.")
    return redirect("ledger:cycles")


@require_POST
def import_flex(request: HttpRequest) -> HttpResponse:
    form = FlexUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a Flex Query XML file to import.")
        return redirect("ledger:cycles")
    upload = form.cleaned_data["file"]
    if upload.size > MAX_BYTES:
        messages.error(request, "That file is larger than 20 MB.")
        return redirect("ledger:cycles")
    try:
        total, added = services.import_flex(upload.read())
    except FlexError as exc:
        messages.error(request, f"Import failed, nothing was stored: {exc}")
        return redirect("ledger:cycles")
    messages.success(
        request, f"Imported {added} new trade(s) of {total} in the file ({total - added} known)."
    )
    return redirect("ledger:cycles")


@require_POST
def add_adjustment(request: HttpRequest) -> HttpResponse:
    form = AdjustmentForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"Adjustment not saved — {field}: {' '.join(errors)}")
        return redirect("ledger:cycles")
    adj = form.save(commit=False)
    adj.user = request.user
    adj.save()
    services.rebuild([adj.symbol])
    messages.success(request, f"Saved: {adj}.")
    return redirect(f"{reverse('ledger:cycles')}?symbol={adj.symbol}")
