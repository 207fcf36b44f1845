"""The top navigation: one list, so another app adds its link with a one-line edit."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# (label, url name). Links whose URL does not resolve (app not installed) are skipped.
NAV: list[tuple[str, str]] = [
    ("Dashboard", "dashboard"),
    ("Signals", "signals:list"),
    ("Watchlist", "watchlist:index"),
    ("Stocks", "market:stocks"),
    ("Orders", "orders:list"),
    ("Ledger", "ledger:cycles"),
    ("Alerts", "alerts:index"),
    ("Settings", "preferences:settings"),
]


def nav_items(request: HttpRequest) -> list[dict[str, object]]:
    items = []
    for label, name in NAV:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = request.path == url or (url != "/" and request.path.startswith(url))
        items.append({"label": label, "url": url, "active": active})
    return items
