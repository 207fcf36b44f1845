"""The top navigation: one list, so another app adds its link with a one-line edit."""

from __future__ import annotations

from functools import cache

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# (label, url name). Links whose URL does not resolve (app not installed) are skipped.
NAV: list[tuple[str, str]] = [
    ("Dashboard", "dashboard"),
    ("Signals", "signals:list"),
    ("Watchlist", "watchlist:index"),
    ("Discover", "discover:index"),
    ("Stocks", "market:stocks"),
    ("Orders", "orders:list"),
    ("Ledger", "ledger:cycles"),
    ("Alerts", "alerts:index"),
    ("Settings", "preferences:settings"),
]


@cache
def _links() -> tuple[tuple[str, str], ...]:
    """(label, url) of each installed link, reversed once: every page draws the nav."""
    links = []
    for label, name in NAV:
        try:
            links.append((label, reverse(name)))
        except NoReverseMatch:
            continue
    return tuple(links)


def nav_items(request: HttpRequest) -> list[dict[str, object]]:
    return [
        {
            "label": label,
            "url": url,
            "active": request.path == url or (url != "/" and request.path.startswith(url)),
        }
        for label, url in _links()
    ]
