"""Is each service up? Checked with `/readyz`, cached briefly so a page never waits twice.

The bridge's readiness means "connected to IBKR"; a bridge that answers but is not ready is
shown as "IBKR disconnected", a bridge that does not answer as "gateway-bridge down".
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from wheeldesk.clients import ServiceCallError
from wheeldesk.markettime import BROKER_CLOCK, NY

from wheeldesk_web.config import SETTINGS
from wheeldesk_web.core.clients import kept_bridge

TTL_SECONDS = 3.0
log = logging.getLogger(__name__)
_lock = threading.Lock()
_cache: tuple[float, dict[str, ServiceState]] | None = None
_pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="status")
# One client for the process: a new one loads the CA bundle (~20 ms of CPU) and reconnects.
_http = httpx.Client(timeout=1.5)


@dataclass(frozen=True)
class ServiceState:
    name: str
    up: bool
    label: str
    detail: str = ""


def _probe(name: str, url: str) -> ServiceState:
    try:
        response = _http.get(f"{url.rstrip('/')}/readyz")
    except httpx.HTTPError as exc:
        detail = "not answering" if isinstance(exc, httpx.TransportError) else str(exc)
        if name == "bridge":
            return ServiceState(name, False, "IBKR disconnected", f"gateway-bridge {detail}")
        return ServiceState(name, False, f"{name} down", detail)
    try:
        body = response.json()
    except ValueError:
        body = {}
    reason = str(body.get("reason") or body.get("status") or "") if isinstance(body, dict) else ""
    if response.status_code == 200:
        return ServiceState(name, True, f"{name} ok")
    if name == "bridge":
        return ServiceState(name, False, "IBKR disconnected", reason or "not connected to IBKR")
    return ServiceState(name, False, f"{name} not ready", reason)


_refreshing = threading.Lock()


def service_status(*, fresh: bool = False) -> dict[str, ServiceState]:
    global _cache
    now = time.monotonic()
    with _lock:
        cached = _cache
    if not fresh and cached is not None and now - cached[0] < TTL_SECONDS:
        return cached[1]
    # One probe at a time: twenty pages expiring the cache together share one answer.
    if cached is not None and not fresh and not _refreshing.acquire(blocking=False):
        return cached[1]
    if cached is None or fresh:
        _refreshing.acquire()
    try:
        with _lock:
            latest = _cache
        if not fresh and latest is not None and time.monotonic() - latest[0] < TTL_SECONDS:
            return latest[1]
        return _probe_all()
    finally:
        _refreshing.release()


def _probe_all() -> dict[str, ServiceState]:
    global _cache
    targets = {
        "bridge": SETTINGS.bridge_url,
        "screener": SETTINGS.screener_url,
        "notifier": SETTINGS.notifier_url,
    }
    futures = {name: _pool.submit(_probe, name, url) for name, url in targets.items()}
    states = {name: future.result() for name, future in futures.items()}
    with _lock:
        _cache = (time.monotonic(), states)
    return states


def forget() -> None:
    """Drop the cache (after a call to a service failed, the next page re-checks)."""
    global _cache, _market
    with _lock:
        _cache = None
    with _market_lock:
        _market = None


# ---- the market as the bridge sees it (the header's "SIMULATED · market time …") ---------

MARKET_TTL_SECONDS = 5.0
_market_lock = threading.Lock()
_market: tuple[float, MarketView | None] | None = None
_last_known: MarketView | None = None


@dataclass(frozen=True)
class MarketView:
    """The bridge's status, reduced to what the header and the data-type badges say.

    `simulated`: the data is tws-sim's (every badge says SIMULATED, never LIVE). `open`: US
    regular hours at IB's clock (None: unknown); closed means quotes are the last session's
    (frozen) and orders rest until `next_open`.
    """

    simulated: bool
    open: bool | None
    time: datetime | None  # IB's clock when asked (UTC), run on with the wall clock
    last_close: datetime | None
    next_open: datetime | None
    data_type: str | None
    asked: float = 0.0  # time.monotonic() of the answer

    def now(self) -> datetime | None:
        if self.time is None:
            return None
        return self.time + timedelta(seconds=time.monotonic() - self.asked)

    @property
    def time_label(self) -> str:
        """IB's clock in New York, as a trader reads it: 'Fri 10:30 ET'."""
        return et_label(self.now())

    @property
    def last_close_label(self) -> str:
        return et_label(self.last_close)

    @property
    def next_open_label(self) -> str:
        return et_label(self.next_open)


def et_label(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(NY).strftime("%a %H:%M ET")


def market_view(*, fresh: bool = False) -> MarketView | None:
    """The bridge's market state, asked at most every MARKET_TTL_SECONDS; None when unknown."""
    global _market, _last_known
    with _market_lock:
        cached = _market
    if not fresh and cached is not None and time.monotonic() - cached[0] < MARKET_TTL_SECONDS:
        return cached[1]
    view: MarketView | None = None
    try:
        st = kept_bridge(timeout=1.5).status()
    except ServiceCallError:
        st = None
    except Exception:  # the header must never turn a page into an error
        log.warning("bridge status unreadable for the market header", exc_info=True)
        st = None
    if st is not None and st.connected:
        BROKER_CLOCK.follow(st.server_time)
        view = MarketView(
            simulated=st.simulated,
            open=st.market_open,
            time=st.server_time,
            last_close=st.last_close,
            next_open=st.next_open,
            data_type=st.market_data_type.value if st.market_data_type else None,
            asked=time.monotonic(),
        )
    with _market_lock:
        _market = (time.monotonic(), view)
        if view is not None:
            _last_known = view
    return view


def data_is_simulated() -> bool:
    """Whether the last answer the bridge gave said its data is tws-sim's (never asks: the
    SSE hub renders badges inside its event loop)."""
    known = _last_known
    return bool(known and known.simulated)


def data_type_label(data_type: str | None) -> str:
    """The badge text: IB's data type, or SIMULATED for tws-sim's data (never 'live')."""
    dt = data_type or "unknown"
    if not data_is_simulated():
        return dt
    return "simulated" if dt in ("live", "unknown") else f"simulated {dt}"
