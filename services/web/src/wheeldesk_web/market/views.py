from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from wheeldesk_web.core.clock import broker_today
from wheeldesk_web.market.models import Stock
from wheeldesk_web.market.pages import UnknownSymbol, chart_data, load_chain, load_stock
from wheeldesk_web.preferences.models import UserConfig
from wheeldesk_web.watchlist.models import WatchlistItem
from wheeldesk_web.watchlist.services import WatchlistError, normalise_symbol


def _symbol(raw: str) -> str:
    try:
        return normalise_symbol(raw)
    except WatchlistError as exc:
        raise Http404(str(exc)) from exc


def stocks(request: HttpRequest) -> HttpResponse:
    watched = set(
        WatchlistItem.objects.filter(watchlist__user=request.user).values_list("symbol", flat=True)
    )
    rows = Stock.objects.defer("history")
    return render(
        request,
        "market/stocks.html",
        {"stocks": rows, "watched": watched, "live_symbols": ",".join(sorted(watched))},
    )


def stock(request: HttpRequest, symbol: str) -> HttpResponse:
    symbol = _symbol(symbol)
    try:
        page = load_stock(symbol, request.user)
    except UnknownSymbol:
        messages.error(request, f"Unknown ticker {symbol}: IBKR has no such stock.")
        return render(request, "market/unknown.html", {"symbol": symbol}, status=404)
    if page.error:
        messages.warning(request, page.error)
    if page.stock is None:
        return render(request, "market/unknown.html", {"symbol": symbol})
    return render(
        request,
        "market/stock.html",
        {"page": page, "stock": page.stock, "chart": chart_data(page.stock, page.marks)},
    )


def chain(request: HttpRequest, symbol: str) -> HttpResponse:
    symbol = _symbol(symbol)
    stock = Stock.objects.filter(symbol=symbol).defer("history").first()
    return render(
        request,
        "market/chain.html",
        {"symbol": symbol, "stock": stock, "expiry": request.GET.get("expiry", "")},
    )


def chain_table(request: HttpRequest, symbol: str) -> HttpResponse:
    symbol = _symbol(symbol)
    config = UserConfig.for_user(request.user)
    try:
        view = load_chain(symbol, request.GET.get("expiry"), config.dte_min)
    except UnknownSymbol:
        return render(
            request,
            "market/partials/chain_error.html",
            {"message": f"Unknown ticker {symbol}."},
            status=404,
        )
    today = broker_today()
    tabs = [
        {
            "expiry": e,
            "dte": (e - today).days,
            "in_window": config.dte_min <= (e - today).days <= config.dte_max,
        }
        for e in view.expirations
    ]
    return render(
        request,
        "market/partials/chain_table.html",
        {"view": view, "tabs": tabs, "config": config},
    )
