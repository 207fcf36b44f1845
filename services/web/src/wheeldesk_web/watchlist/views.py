from django.contrib import messages
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from wheeldesk_web.core.ids import strict_id
from wheeldesk_web.preferences.models import UserConfig
from wheeldesk_web.watchlist import hooks
from wheeldesk_web.watchlist.forms import (
    LIST_CRITERIA,
    AddSymbolForm,
    ImportForm,
    NotesForm,
    WatchlistCriteriaForm,
    WatchlistForm,
)
from wheeldesk_web.watchlist.models import Watchlist, WatchlistItem
from wheeldesk_web.watchlist.services import (
    WatchlistError,
    add_symbol,
    default_watchlist,
    import_symbols,
)


def _page(request: HttpRequest, watchlist: Watchlist, status: int = 200, **forms) -> HttpResponse:
    items = list(watchlist.items.all())
    stocks = hooks.stocks(i.symbol for i in items)
    rows = [(item, stocks.get(item.symbol)) for item in items]
    context = {
        "watchlist": watchlist,
        "watchlists": Watchlist.objects.filter(user=request.user),
        "rows": rows,
        "add_form": forms.get("add_form") or AddSymbolForm(),
        "import_form": forms.get("import_form") or ImportForm(),
        "new_form": forms.get("new_form") or WatchlistForm(),
        "criteria_form": forms.get("criteria_form")
        or WatchlistCriteriaForm(initial=watchlist.criteria, base=_settings(request)),
        "own_criteria": _own_words(watchlist),
        "live_symbols": ",".join(i.symbol for i in items),
        # a form refused on POST shows its errors (400) at the list's own address: reloading
        # GETs the list instead of posting the form again (app.js replaces the URL)
        "page_url": f"{reverse('watchlist:index')}?list={watchlist.pk}",
    }
    return render(request, "watchlist/index.html", context, status=status)


def _settings(request: HttpRequest):  # type: ignore[no-untyped-def]
    return UserConfig.for_user(request.user).criteria()


def _own_words(watchlist: Watchlist) -> str:
    """The list's own criteria in a line ("Minimum DTE (days) 20, Maximum |delta| 0.25")."""
    from wheeldesk_web.preferences.forms import LABELS

    own = watchlist.criteria or {}
    return ", ".join(f"{LABELS[k]} {own[k]:g}" for k in LIST_CRITERIA if k in own)


def _own(request: HttpRequest, pk: int) -> Watchlist:
    return get_object_or_404(Watchlist, pk=pk, user=request.user)


def _back(watchlist: Watchlist) -> HttpResponse:
    hooks.changed.send(sender=Watchlist)  # the bridge streams the tickers (market.streaming)
    return redirect(f"{reverse('watchlist:index')}?list={watchlist.pk}")


def index(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("list", "")
    if raw:
        pk = strict_id(raw)  # `¹` or `٣` is no id (isdigit took them: a 500, or list 3)
        if pk is None:
            raise Http404("no such watchlist")
        watchlist = _own(request, pk)
    else:
        watchlist = default_watchlist(request.user)
    return _page(request, watchlist)


@require_POST
def add(request: HttpRequest, pk: int) -> HttpResponse:
    watchlist = _own(request, pk)
    form = AddSymbolForm(request.POST)
    if form.is_valid():
        try:
            item = add_symbol(watchlist, form.cleaned_data["symbol"], form.cleaned_data["notes"])
        except WatchlistError as exc:
            form.add_error("symbol", str(exc))
        else:
            messages.success(request, f"Added {item.symbol} to {watchlist.name}.")
            return _back(watchlist)
    for error in form.errors.get("symbol", []) + form.errors.get("notes", []):
        messages.error(request, error)
    return _page(request, watchlist, status=400, add_form=form)


@require_POST
def remove(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    watchlist = _own(request, pk)
    item = get_object_or_404(WatchlistItem, pk=item_pk, watchlist=watchlist)
    item.delete()
    messages.success(request, f"Removed {item.symbol} from {watchlist.name}.")
    return _back(watchlist)


@require_POST
def notes(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    watchlist = _own(request, pk)
    item = get_object_or_404(WatchlistItem, pk=item_pk, watchlist=watchlist)
    form = NotesForm(request.POST)
    if form.is_valid():
        item.notes = form.cleaned_data["notes"]
        item.save(update_fields=["notes"])
        messages.success(request, f"Saved the notes on {item.symbol}.")
    else:
        messages.error(request, f"Notes on {item.symbol} not saved: {form.errors['notes'][0]}")
    return _back(watchlist)


@require_POST
def import_list(request: HttpRequest, pk: int) -> HttpResponse:
    watchlist = _own(request, pk)
    form = ImportForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing imported: " + " ".join(form.errors.get("symbols", [])))
        return _page(request, watchlist, status=400, import_form=form)
    try:
        result = import_symbols(watchlist, form.cleaned_data["symbols"])
    except WatchlistError as exc:
        messages.error(request, str(exc))
        return _page(request, watchlist, status=400, import_form=form)
    if result.added:
        messages.success(request, f"Imported {len(result.added)}: {', '.join(result.added)}.")
    for reason in result.skipped:
        messages.warning(request, f"Skipped: {reason}")
    return _back(watchlist)


@require_POST
def create(request: HttpRequest) -> HttpResponse:
    form = WatchlistForm(request.POST)
    current = default_watchlist(request.user)
    if not form.is_valid():
        messages.error(request, "Watchlist not created: " + " ".join(form.errors.get("name", [])))
        return _page(request, current, status=400, new_form=form)
    try:
        watchlist = Watchlist.objects.create(
            user=request.user, name=form.cleaned_data["name"].strip()
        )
    except IntegrityError:
        form.add_error("name", "You already have a watchlist with that name.")
        messages.error(request, "You already have a watchlist with that name.")
        return _page(request, current, status=400, new_form=form)
    messages.success(request, f"Created watchlist {watchlist.name}.")
    return _back(watchlist)


@require_POST
def make_default(request: HttpRequest, pk: int) -> HttpResponse:
    watchlist = _own(request, pk)
    Watchlist.objects.filter(user=request.user).update(is_default=False)
    Watchlist.objects.filter(pk=watchlist.pk).update(is_default=True)
    messages.success(request, f"{watchlist.name} is now the list “Scan now” screens.")
    return _back(watchlist)


@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    watchlist = _own(request, pk)
    if Watchlist.objects.filter(user=request.user).count() <= 1:
        messages.error(request, "Keep at least one watchlist.")
        return _back(watchlist)
    watchlist.delete()
    messages.success(request, f"Deleted watchlist {watchlist.name}.")
    return redirect("watchlist:index")


@require_POST
def criteria(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the list's own criteria (an empty field keeps the Settings' value)."""
    watchlist = _own(request, pk)
    form = WatchlistCriteriaForm(request.POST, base=_settings(request))
    if not form.is_valid():
        messages.error(request, f"Criteria of {watchlist.name} not saved: see the fields marked.")
        return _page(request, watchlist, status=400, criteria_form=form)
    watchlist.criteria = form.own()
    watchlist.save(update_fields=["criteria"])
    if watchlist.criteria:
        messages.success(
            request, f"{watchlist.name} scans with its own criteria: {_own_words(watchlist)}."
        )
    else:
        messages.success(request, f"{watchlist.name} scans with your Settings’ criteria.")
    return _back(watchlist)


@require_POST
def clear_criteria(request: HttpRequest, pk: int) -> HttpResponse:
    watchlist = _own(request, pk)
    watchlist.criteria = {}
    watchlist.save(update_fields=["criteria"])
    messages.success(request, f"{watchlist.name} scans with your Settings’ criteria again.")
    return _back(watchlist)
