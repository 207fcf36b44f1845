from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from wheeldesk_web.core.dashboard import dashboard_data
from wheeldesk_web.ledger.services import summary_version
from wheeldesk_web.signals.models import ScanRun
from wheeldesk_web.watchlist.services import default_watchlist


@login_not_required
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "service": "web"})


@login_not_required
def readyz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return JsonResponse({"status": "not_ready", "reason": f"database: {exc}"}, status=503)
    return JsonResponse({"status": "ready", "service": "web"})


def home(request: HttpRequest) -> HttpResponse:
    watchlist = default_watchlist(request.user)
    last_scan = ScanRun.objects.filter(status=ScanRun.DONE).first()
    return render(
        request,
        "core/home.html",
        {"watchlist_count": watchlist.items.count(), "last_scan": last_scan},
    )


def dashboard(request: HttpRequest) -> HttpResponse:
    data = dashboard_data()
    return render(
        request,
        "core/dashboard.html",
        {
            "data": data,
            "live_symbols": ",".join(data.symbols),
            "ledger_version": summary_version(),
        },
    )
