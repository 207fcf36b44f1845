"""The Discover page: thin views over discover.services (IB scanners → watchlist / wheel screen)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from pydantic import ValidationError
from wheeldesk.schemas.scanner import MarketScanRequest

from wheeldesk_web.core.ids import strict_id
from wheeldesk_web.discover import services
from wheeldesk_web.discover.forms import DiscoverForm, SaveForm
from wheeldesk_web.discover.models import SavedDiscovery
from wheeldesk_web.watchlist.models import Watchlist
from wheeldesk_web.watchlist.services import default_watchlist


def _page(
    request: HttpRequest, form: DiscoverForm | None = None, status: int = 200, **extra: object
) -> HttpResponse:
    params_error = None
    if form is None:
        try:
            form = DiscoverForm(services.parameters())
        except services.DiscoverError as exc:
            params_error = str(exc)
    last = services.last_result(request.session)
    context = {
        "ideas": services.IDEAS,
        "form": form,
        "params_error": params_error,
        "last": last,
        "rows": services.row_views(last.result) if last else [],
        "watchlists": Watchlist.objects.filter(user=request.user),
        "default_watchlist": default_watchlist(request.user),
        "saved": SavedDiscovery.objects.filter(user=request.user),
        "save_form": extra.get("save_form") or SaveForm(),
        # a form refused on POST (/discover/run/, /save/…) shows at the page's own address:
        # a reload GETs it instead of posting again (base.html, app.js)
        "page_url": reverse("discover:index"),
    }
    return render(request, "discover/index.html", context, status=status)


def _results() -> HttpResponse:
    return redirect(reverse("discover:index") + "#results")


def index(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _run(request: HttpRequest, title: str, req: MarketScanRequest) -> HttpResponse | None:
    """Run and remember; None when it failed (the message is queued for the page)."""
    try:
        result = services.run(req)
    except services.DiscoverError as exc:
        messages.error(request, str(exc))
        return None
    services.remember(request.session, services.Last(title, req, result))
    messages.info(request, f"{title}: IBKR ranked {len(result.rows)} stocks.")
    return _results()


@require_POST
def run(request: HttpRequest) -> HttpResponse:
    key = request.POST.get("idea", "")
    if key:
        idea = services.IDEAS_BY_KEY.get(key)
        if idea is None:
            messages.error(request, "No such ready idea.")
            return _page(request, status=400)
        return _run(request, idea.title, services.idea_request(idea)) or _page(request, status=502)
    try:
        params = services.parameters()
    except services.DiscoverError as exc:
        messages.error(request, str(exc))
        return _page(request, status=503)
    form = DiscoverForm(params, request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    req = form.to_request()
    try:
        result = services.run(req)
    except services.DiscoverError as exc:
        target = form.field_for(exc.field)
        if target:
            form.add_error(target, str(exc))
        else:
            messages.error(request, str(exc))
        return _page(request, form, status=400 if target else 502)
    title = dict(form.fields["scan_code"].choices).get(req.scan_code, req.scan_code)  # type: ignore[attr-defined]
    services.remember(request.session, services.Last(str(title), req, result))
    messages.info(request, f"{title}: IBKR ranked {len(result.rows)} stocks.")
    return _results()


def _chosen(request: HttpRequest) -> list[str]:
    last = services.last_result(request.session)
    if request.POST.get("all") and last is not None:
        return [r.symbol for r in last.result.rows][: services.MAX_SYMBOLS]
    return services.chosen_symbols(request.POST.getlist("symbol"), last.result if last else None)


@require_POST
def add(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("watchlist", "")
    if raw:
        pk = strict_id(raw)
        watchlist = get_object_or_404(Watchlist, pk=pk or 0, user=request.user)
    else:
        watchlist = default_watchlist(request.user)
    try:
        symbols = _chosen(request)
    except services.DiscoverError as exc:
        messages.error(request, str(exc))
        return _page(request, status=400)
    out = services.add_to_watchlist(watchlist, symbols)
    if out.added:
        messages.success(request, f"Added {', '.join(out.added)} to {watchlist.name}.")
    if out.already:
        messages.info(request, f"Already on {watchlist.name}: {', '.join(out.already)}.")
    for failure in out.failed:
        messages.error(request, failure)
    return _results()


@require_POST
def screen(request: HttpRequest) -> HttpResponse:
    try:
        symbols = _chosen(request)
    except services.DiscoverError as exc:
        messages.error(request, str(exc))
        return _page(request, status=400)
    scan = services.screen(request.user, symbols)
    messages.info(request, f"Wheel screen started on {len(scan.symbols)} discovered symbols.")
    return redirect(f"{reverse('signals:list')}?scan={scan.pk}")


@require_POST
def save(request: HttpRequest) -> HttpResponse:
    last = services.last_result(request.session)
    form = SaveForm(request.POST)
    if last is None:
        messages.error(request, "Run a discovery first, then save it.")
        return _page(request, status=400)
    if not form.is_valid():
        return _page(request, status=400, save_form=form)
    try:
        saved = services.save(
            request.user,
            form.cleaned_data["name"],
            last.request,
            on_schedule=form.cleaned_data["on_schedule"],
        )
    except services.DiscoverError as exc:
        form.add_error("name", str(exc))
        return _page(request, status=400, save_form=form)
    messages.success(request, f"Saved “{saved.name}”.")
    return _results()


@require_POST
def run_saved(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedDiscovery, pk=pk, user=request.user)
    try:
        req = services.saved_request(saved)
    except ValidationError:
        messages.error(request, f"“{saved.name}” no longer makes a valid scan: delete it.")
        return _page(request, status=400)
    response = _run(request, saved.name, req)
    if response is None:
        return _page(request, status=502)
    last = services.last_result(request.session)
    if last is not None:
        services.record_run(saved, last.result)
    return response


@require_POST
def delete_saved(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedDiscovery, pk=pk, user=request.user)
    saved.delete()
    messages.info(request, f"Deleted “{saved.name}”.")
    return redirect("discover:index")


@require_POST
def schedule_saved(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedDiscovery, pk=pk, user=request.user)
    saved.on_schedule = request.POST.get("on") == "1"
    saved.save(update_fields=["on_schedule"])
    state = "runs once a trading day" if saved.on_schedule else "runs only when you ask"
    messages.info(request, f"“{saved.name}” {state}.")
    return redirect("discover:index")
