"""Which symbols the bridge streams on NATS: every position and every watchlist ticker.

The bridge keeps one set (replaced on each call) and forgets it when it restarts, so the web
re-sends it whenever it changes and at least every `RESEND_SECONDS` while pages are viewed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.cache import cache
from wheeldesk.clients import ServiceCallError, SyncBridgeClient

from wheeldesk_web.core import clients
from wheeldesk_web.watchlist.models import WatchlistItem

log = logging.getLogger(__name__)
RESEND_SECONDS = 30
SENT_KEY = "streaming:sent"


def wanted_symbols(extra: Iterable[str] = ()) -> list[str]:
    symbols = set(WatchlistItem.objects.values_list("symbol", flat=True).distinct())
    symbols.update(s.upper() for s in extra)
    return sorted(symbols)[:500]


def ensure_streaming(
    extra: Iterable[str] = (), *, bridge: SyncBridgeClient | None = None, force: bool = False
) -> bool:
    """Send the set if it changed or is due; never raises (live prices are best effort)."""
    wanted = wanted_symbols(extra)
    if not force and cache.get(SENT_KEY) == wanted:
        return False
    try:
        if bridge is not None:
            bridge.subscribe(wanted)
        else:
            with clients.bridge(timeout=5.0) as own:
                own.subscribe(wanted)
    except ServiceCallError as exc:
        log.warning("could not set the bridge's streaming symbols: %s", exc.message)
        return False
    cache.set(SENT_KEY, wanted, RESEND_SECONDS)
    return True


def positions_symbols() -> list[str]:
    from wheeldesk_web.market.account import dashboard_data

    return dashboard_data().symbols
