"""The home page and the dashboard: what the other apps know, put on one screen."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from wheeldesk_web.ledger.services import summary_version
from wheeldesk_web.market.account import dashboard_data
from wheeldesk_web.signals.models import ScanRun
from wheeldesk_web.watchlist.services import default_watchlist


def home(request: HttpRequest) -> HttpResponse:
    watchlist = default_watchlist(request.user)
    last_scan = ScanRun.objects.filter(status=ScanRun.DONE).first()
    return render(
        request,
        "dashboard/home.html",
        {"watchlist_count": watchlist.items.count(), "last_scan": last_scan},
    )


def dashboard(request: HttpRequest) -> HttpResponse:
    data = dashboard_data()
    return render(
        request,
        "dashboard/dashboard.html",
        {
            "data": data,
            "live_symbols": ",".join(data.symbols),
            "ledger_version": summary_version(),
        },
    )
