import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from wheeldesk_web.core.ids import strict_id
from wheeldesk_web.core.status import data_type_label, market_view
from wheeldesk_web.signals.models import ScanRun, Signal
from wheeldesk_web.signals.query import COLUMNS, SignalQuery
from wheeldesk_web.signals.services import (
    ScanError,
    create_scan,
    latest_scan,
    start_in_background,
)

PAGE_SIZE = 100


def _scan_for(request: HttpRequest) -> ScanRun | None:
    raw = request.GET.get("scan", "")
    if raw:
        # ASCII digits only: `¹` or `٣` are no scan id (str.isdigit took them: a 500, or 3).
        pk = strict_id(raw)
        if pk is None:
            raise Http404("no such scan")
        return get_object_or_404(
            ScanRun.objects.filter(Q(user=request.user) | Q(user__isnull=True)), pk=pk
        )
    return latest_scan(request.user)


def _running(request: HttpRequest) -> ScanRun | None:
    return ScanRun.objects.filter(status=ScanRun.RUNNING, user=request.user).first()


def signal_list(request: HttpRequest) -> HttpResponse:
    scan = _scan_for(request)
    query = SignalQuery.parse(request.GET)
    for error in query.errors.values():
        messages.error(request, error)
    signals = query.apply(Signal.objects.filter(scan=scan)) if scan else Signal.objects.none()
    page = Paginator(signals, PAGE_SIZE).get_page(request.GET.get("page"))
    rejections = list(scan.rejections.all()) if scan else []
    recent = ScanRun.objects.filter(Q(user=request.user) | Q(user__isnull=True))[:10]
    context = {
        "scan": scan,
        "page": page,
        "query": query,
        "headers": query.headers(),
        "rejections": rejections,
        "stock_rejections": [r for r in rejections if not r.contract],
        "contract_rejections": [r for r in rejections if r.contract],
        "running": _running(request),
        "recent_scans": recent,
        "tiers": ["A", "B", "C"],
        "kinds": ["CSP", "CC", "ROLL", "CLOSE"],
        "statuses": [s for s, _ in Signal.STATUSES],
        "numeric_filters": [(k, COLUMNS[k][0]) for k in COLUMNS if COLUMNS[k][2]],
    }
    status = 400 if query.errors else 200
    return render(request, "signals/list.html", context, status=status)


def export_csv(request: HttpRequest) -> HttpResponse:
    scan = _scan_for(request)
    query = SignalQuery.parse(request.GET)
    signals = query.apply(Signal.objects.filter(scan=scan)) if scan else Signal.objects.none()
    fields = [
        "kind", "symbol", "expiry", "strike", "right", "tier", "score", "next_tier",
        "points_to_next_tier", "next_tier_note", "premium_basis",
        "premium", "collateral", "yield_pct", "apy", "apy_compounded", "pop", "prob_profit",
        "abs_delta", "dte", "breakeven", "expected_move", "distance_pct", "spread_pct",
        "open_interest", "volume", "iv", "iv_rank", "iv_percentile", "underlying_price", "bid",
        "ask", "net_credit", "captured_pct", "premium_received", "cost_to_close", "close_basis",
        "remaining_per_day", "added_days", "cost_basis", "cost_basis_source", "ib_avg_cost",
        "pricing_model", "market_data_type", "quote_ts", "status", "quantity",
        "earnings_date", "earnings_before_expiry", "ex_dividend_date", "ex_dividend_marker",
    ]  # fmt: skip

    class Echo:
        def write(self, value: str) -> str:
            return value

    def safe(value: object) -> object:
        # A cell starting with = + - @ is a formula to a spreadsheet: neutralise text ones.
        if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
            return "'" + value
        return "" if value is None else value

    def rows():  # type: ignore[no-untyped-def]
        writer = csv.writer(Echo())
        yield writer.writerow([*fields, "reasons", "skipped"])
        for s in signals.iterator(chunk_size=500):
            yield writer.writerow(
                [
                    safe(
                        data_type_label(s.market_data_type)
                        if f == "market_data_type" and s.market_data_type
                        else getattr(s, f)
                    )
                    for f in fields
                ]
                + [safe(" | ".join(s.reasons)), safe(" | ".join(s.skipped))]
            )

    market_view()  # the bridge says whether the data is simulated: the column says so
    name = f"wheeldesk-signals-scan-{scan.pk if scan else 'none'}.csv"
    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_POST
def scan_now(request: HttpRequest) -> HttpResponse:
    try:
        run = create_scan(request.user, trigger="manual")
    except ScanError as exc:
        messages.error(request, str(exc))
        if request.htmx:
            response = HttpResponse("")
            response["HX-Redirect"] = reverse("signals:list")
            return response
        return redirect("signals:list")
    if run.progress.startswith("Queued"):
        start_in_background(run)
    if request.htmx:
        return render(request, "signals/partials/progress.html", {"run": run})
    what = f"{len(run.symbols)} symbols" if run.symbols else "the positions held"
    messages.info(request, f"Scan started on {what}.")
    return redirect("signals:list")


def scan_progress(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(ScanRun, pk=pk, user=request.user)
    if run.status == ScanRun.RUNNING:
        return render(request, "signals/partials/progress.html", {"run": run})
    if run.status == ScanRun.DONE:
        messages.success(
            request,
            f"Scan finished: {run.signal_count} signal{'s' if run.signal_count != 1 else ''}, "
            f"{run.rejection_count} rejected.",
        )
    else:
        messages.error(request, f"Scan failed: {run.error}")
    url = reverse("signals:list") + (f"?scan={run.pk}" if run.status == ScanRun.DONE else "")
    if request.htmx:
        response = HttpResponse("")
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    signal = get_object_or_404(
        Signal.objects.select_related("scan").filter(
            Q(scan__user=request.user) | Q(scan__user__isnull=True)
        ),
        pk=pk,
    )
    # A GET only reads (a prefetch or a crawler must not mark it seen): the status changes by
    # the user's own POST (set_status).
    return render(request, "signals/detail.html", {"signal": signal})


@require_POST
def set_status(request: HttpRequest, pk: int) -> HttpResponse:
    # Only one's own signals (or a shared, scheduled scan's): another user's is 404.
    signal = get_object_or_404(
        Signal.objects.filter(Q(scan__user=request.user) | Q(scan__user__isnull=True)), pk=pk
    )
    status = request.POST.get("status", "")
    if status in (Signal.FILLED, Signal.CANCELLED):
        messages.error(request, "Filled and cancelled follow the signal's order; not set by hand.")
    elif status not in dict(Signal.MANUAL_STATUSES):
        messages.error(request, f"Unknown status “{status[:20]}”.")
    else:
        Signal.objects.filter(pk=pk).update(status=status)
        messages.success(request, f"{signal.contract_key} marked {status}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("signals:detail", args=[pk])
    return redirect(target)
