"""Is each service up? Checked with `/readyz`, cached briefly so a page never waits twice.

The bridge's readiness means "connected to IBKR"; a bridge that answers but is not ready is
shown as "IBKR disconnected", a bridge that does not answer as "gateway-bridge down".
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from wheeldesk_web.config import SETTINGS

TTL_SECONDS = 3.0
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
    global _cache
    with _lock:
        _cache = None
