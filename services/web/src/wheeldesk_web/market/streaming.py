"""Which symbols the bridge streams on NATS: every position and every watchlist ticker.

The bridge owns the set: it persists it (a NATS KeyValue entry) and streams it again after its
own restart or a Gateway reconnect, with no page view. The web only writes it when it changes:
a watchlist request that changed the tickers (`watchlist.hooks.changed`, connected in
`MarketConfig.ready`), symbols added from Discover, and positions synced (`sync_ibkr`). Pages
never write it; they read the quotes the bridge publishes.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from wheeldesk.clients import ServiceCallError, SyncBridgeClient

from wheeldesk_web.core import clients
from wheeldesk_web.market.services import last_account
from wheeldesk_web.watchlist.models import WatchlistItem

log = logging.getLogger(__name__)
SENT_KEY = "streaming:sent"
SENT_SECONDS = 3600  # only to skip re-sending an unchanged set; the bridge keeps its own copy
MAX_SYMBOLS = 500


def wanted_symbols() -> list[str]:
    """Watchlist tickers and the underlyings of the last synced positions."""
    symbols = set(WatchlistItem.objects.values_list("symbol", flat=True).distinct())
    stored = last_account()
    if stored is not None:
        symbols.update(p.symbol.upper() for p in stored[1])
    return sorted(symbols)[:MAX_SYMBOLS]


def push_streaming_set(*, bridge: SyncBridgeClient | None = None, force: bool = False) -> bool:
    """Send the set to the bridge if it changed; never raises (live prices are best effort)."""
    wanted = wanted_symbols()
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
        cache.delete(SENT_KEY)
        return False
    cache.set(SENT_KEY, wanted, SENT_SECONDS)
    return True


def on_watchlist_changed(sender: Any, **kwargs: Any) -> None:
    push_streaming_set()
