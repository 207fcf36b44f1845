"""Ledger pages: every cycle (filterable), one cycle's timeline, monthly premium, imports."""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from wheeldesk_web.core.clock import broker_now, broker_today
from wheeldesk_web.ledger import services
from wheeldesk_web.ledger.charts import premium_bars
from wheeldesk_web.ledger.cycles import build_cycles, monthly_premium, summarise
from wheeldesk_web.ledger.import_views import FlexUploadForm, running_import
from wheeldesk_web.ledger.models import Adjustment, Execution, WheelCycle


class AdjustmentForm(forms.ModelForm):
    class Meta:
        model = Adjustment
        fields = [
            "kind",
            "symbol",
            "time",
            "quantity",
            "price",
            "amount",
            "right",
            "strike",
            "expiry",
            "note",
        ]
        widgets = {
            # minutes, no seconds: the browser's picker then accepts any time typed (with a
            # value carrying seconds it refused every minute but the initial one)
            "time": forms.DateTimeInput(
                attrs={"type": "datetime-local", "step": "60"}, format="%Y-%m-%dT%H:%M"
            ),
            "expiry": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "input")
        self.fields["note"].required = False  # an adjustment explains itself; a note is extra

    def clean_symbol(self) -> str:
        symbol = self.cleaned_data["symbol"].strip().upper()
        if not symbol.replace(".", "").isalpha() or len(symbol) > 21:
            raise forms.ValidationError("Letters only, e.g. KO or BRK.B.")
        return symbol

    def clean_time(self):  # type: ignore[no-untyped-def]
        when = self.cleaned_data["time"]
        if when is not None and not 1990 <= when.year <= 2100:
            raise forms.ValidationError("A date between 1990 and 2100.")
        return when

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        kind = data.get("kind")
        if kind == "lot" and (not data.get("quantity") or data["quantity"] <= 0):
            self.add_error("quantity", "A lot needs a positive number of shares.")
        if kind == "lot" and (data.get("price") is None or data["price"] <= 0):
            self.add_error("price", "A lot needs its cost per share.")
        if kind == "dividend" and (not data.get("amount") or data["amount"] <= 0):
            self.add_error("amount", "A dividend needs the cash amount received.")
        if kind == "option":
            if not data.get("quantity") or data["quantity"] <= 0:
                self.add_error("quantity", "How many contracts are short.")
            if data.get("price") is None or data["price"] < 0:
                self.add_error("price", "The premium per share received when sold.")
            if data.get("right") not in ("P", "C"):
                self.add_error("right", "Put or call.")
            if not data.get("strike") or data["strike"] <= 0:
                self.add_error("strike", "The option's strike.")
            if not data.get("expiry"):
                self.add_error("expiry", "The option's expiry.")
        for name in ("quantity", "price", "amount", "strike"):
            value = data.get(name)
            if value is not None and abs(value) >= Decimal("1e7"):
                self.add_error(name, "That is not a sane value (below 10,000,000).")
        return data


OPENING_NOTE = "Opening lot"


def opening_lots() -> list[Adjustment]:
    """The lots the first sync opened from the account's positions (IB's average cost), and
    those the user corrected since: the onboarding panel lists them, each editable."""
    from django.db.models import Q

    rows = Adjustment.objects.filter(Q(from_broker=True) | Q(note__startswith=OPENING_NOTE))
    lots = list(rows.filter(kind__in=["lot", "option"]).order_by("symbol", "kind", "pk"))
    for lot in lots:  # as typed (47.1, 200), not as stored (47.1000, 200.0000)
        lot.quantity_text = format(lot.quantity.normalize(), "f")  # type: ignore[attr-defined]
        lot.price_text = format(lot.price.normalize(), "f")  # type: ignore[attr-defined]
        strike = lot.strike.normalize() if lot.strike is not None else None
        lot.strike_text = format(strike, "f") if strike is not None else ""  # type: ignore[attr-defined]
    return lots


def held_symbols_to_seed(user) -> list[str]:  # type: ignore[no-untyped-def]
    """Symbols the account held at the last sync that are not on the user's watchlist yet."""
    from wheeldesk_web.ledger.models import PositionSnapshot
    from wheeldesk_web.watchlist.services import default_watchlist

    snapshot = PositionSnapshot.objects.first()
    if snapshot is None or not user.is_authenticated:
        return []
    held: list[str] = []
    for p in snapshot.positions:
        symbol = str(p.get("symbol", "")).strip().upper()
        if symbol and float(p.get("quantity") or 0) != 0 and symbol not in held:
            held.append(symbol)
    listed = set(default_watchlist(user).items.values_list("symbol", flat=True))
    return [s for s in held if s not in listed]


class OpeningLotForm(forms.Form):
    """A correction of an opening lot: the real cost per share (shares) or premium per share
    (a short option), and the quantity."""

    quantity = forms.DecimalField(min_value=Decimal("0.0001"), max_value=Decimal("9999999"))
    price = forms.DecimalField(min_value=Decimal(0), max_value=Decimal("9999999"))


@require_POST
def edit_opening_lot(request: HttpRequest, pk: int) -> HttpResponse:
    lot = next((a for a in opening_lots() if a.pk == pk), None)
    if lot is None:
        raise Http404("no such opening lot")
    form = OpeningLotForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"Opening lot not saved — {field}: {' '.join(errors)}")
        return redirect(f"{reverse('ledger:cycles')}#ledger-onboarding")
    lot.quantity, lot.price = form.cleaned_data["quantity"], form.cleaned_data["price"]
    # corrected by hand: no longer IB's stand-in, so a later history import never removes it
    lot.from_broker = False
    lot.note = f"{OPENING_NOTE} from IBKR at the first sync, corrected by hand."
    lot.user = request.user
    lot.save()
    services.rebuild([lot.symbol])
    messages.success(request, f"Opening lot saved: {lot}.")
    return redirect(f"{reverse('ledger:cycles')}#ledger-onboarding")


@require_POST
def seed_watchlist(request: HttpRequest) -> HttpResponse:
    """Put the symbols the account holds on the default watchlist (IB reported them: no
    lookup needed)."""
    from wheeldesk_web.watchlist.models import WatchlistItem
    from wheeldesk_web.watchlist.services import default_watchlist

    symbols = held_symbols_to_seed(request.user)
    watchlist = default_watchlist(request.user)
    for symbol in symbols:
        WatchlistItem.objects.get_or_create(watchlist=watchlist, symbol=symbol[:12])
    if symbols:
        messages.success(request, f"Added {', '.join(symbols)} to {watchlist.name}.")
    else:
        messages.info(request, "Every symbol held is already on the watchlist.")
    return redirect(f"{reverse('ledger:cycles')}#ledger-onboarding")


def cycles(request: HttpRequest) -> HttpResponse:
    qs = WheelCycle.objects.all()
    symbol = request.GET.get("symbol", "").strip().upper()[:21]
    state = request.GET.get("state", "")
    if symbol:
        qs = qs.filter(symbol=symbol)
    if state == "open":
        qs = qs.exclude(state="closed")
    elif state == "closed":
        qs = qs.filter(state="closed")
    rows, bad_cycles = services.readable(qs)
    today = broker_today()
    for row in rows:
        row.days_now = row.days_on(today)  # type: ignore[attr-defined]
    events = services.events_for([symbol] if symbol else None)
    summary = summarise(build_cycles(events))
    months = monthly_premium(events)
    _good, invalid = services.valid_executions([symbol] if symbol else None)
    conflicts = services.readable(
        Execution.objects.filter(conflict_with__isnull=False).select_related("conflict_with")
    )[0]
    initial = {"time": timezone.localtime().replace(second=0, microsecond=0)}
    if symbol:
        initial["symbol"] = symbol
    return render(
        request,
        "ledger/cycles.html",
        {
            "cycles": rows,
            "bad_cycles": bad_cycles,
            "invalid_executions": invalid,
            "conflicts": conflicts,
            "differences": services.ledger_differences(),
            "opening_lots": opening_lots(),
            "seed_symbols": held_symbols_to_seed(request.user),
            "summary": summary,
            "symbol": symbol,
            "state": state,
            "symbols": WheelCycle.objects.values_list("symbol", flat=True).distinct(),
            "chart": mark_safe(premium_bars(months)),  # built from numbers and YYYY-MM only
            "months": months,
            "this_month": services.premium_collected_this_month(),
            "flex_form": FlexUploadForm(),
            "flex_import": running_import(request),
            "adj_form": AdjustmentForm(initial=initial),
        },
    )


OLD_KEY = re.compile(r"(?P<symbol>.+?)-(?P<stamp>\d{14})-(?P<ref>.+)")


def _successor(key: str) -> str | None:
    """The cycle that now holds what an old link's cycle started with.

    A cycle's key names its first event (ticker, time, execution id); a history import or an
    adjustment can put an earlier event in front, and the key changes. An old link then goes
    to the cycle containing that same first execution, else to the one whose span covers its
    time, so bookmarks and emailed links keep working after a rebuild."""
    m = OLD_KEY.fullmatch(key)
    if m is None:
        return None
    cycles = services.cycles_for(m["symbol"])
    if m["ref"] != "x":
        for c in cycles:
            if any(e.ref == m["ref"] for e in c.events):
                return c.key
    for c in cycles:
        first = f"{c.events[0].time:%Y%m%d%H%M%S}"
        last = f"{c.events[-1].time:%Y%m%d%H%M%S}"
        if first <= m["stamp"] and (m["stamp"] <= last or not c.closed):
            return c.key
    return None


def cycle(request: HttpRequest, key: str) -> HttpResponse:
    rows, _bad = services.readable(WheelCycle.objects.filter(key=key[:120]))
    row = rows[0] if rows else None
    match = (
        next((c for c in services.cycles_for(row.symbol) if c.key == key), None) if row else None
    )
    if match is None:
        moved = _successor(key[:120])
        if moved is not None and moved != key:
            return redirect("ledger:cycle", key=moved, permanent=True)
        raise Http404("no such cycle")
    timeline, running = [], Decimal(0)
    for e in match.events:
        if e.sec_type == "OPT":
            running += e.cash
        timeline.append({"e": e, "cash": e.cash, "running": running})
    return render(
        request,
        "ledger/cycle.html",
        {"row": row, "c": match, "timeline": timeline, "days": row.days_on(broker_today())},
    )


@require_POST
def sync(request: HttpRequest) -> HttpResponse:
    """Fetch the bridge's executions now (the worker does this from NATS as they happen)."""
    from wheeldesk.clients import ServiceCallError

    from wheeldesk_web.core import clients

    try:
        with clients.bridge(timeout=20) as bridge:
            added = services.backfill(bridge)
            services.sync_positions(bridge.positions(), broker_now())
    except ServiceCallError as exc:
        messages.error(request, f"Could not fetch executions: {exc.message}")
        return redirect("ledger:cycles")
    messages.success(request, f"Fetched executions from IBKR: {added} new.")
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
