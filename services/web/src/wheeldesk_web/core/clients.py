"""The web's handles on the other services (HTTP clients configured from WebSettings).

Short timeouts: a page must render (with a banner) rather than hang when a service is down.
"""

from __future__ import annotations

import threading

from wheeldesk.clients import SyncBridgeClient, SyncNotifierClient, SyncScreenerClient

from wheeldesk_web.config import SETTINGS


def _token() -> str:
    return SETTINGS.internal_api_token.get_secret_value()


def bridge(timeout: float = 8.0) -> SyncBridgeClient:
    return SyncBridgeClient(SETTINGS.bridge_url, _token(), timeout=timeout)


_kept: dict[tuple[str, float], SyncBridgeClient] = {}
_kept_lock = threading.Lock()


def kept_bridge(timeout: float = 5.0) -> SyncBridgeClient:
    """The process's long-lived bridge client, for calls made every few seconds (the dashboard).

    Not closed after use: it keeps its connections, and a fresh client spends ~20 ms of CPU
    loading the CA bundle, which every dashboard refresh paid. Thread-safe (httpx.Client).
    """
    key = (SETTINGS.bridge_url, timeout)
    with _kept_lock:
        client = _kept.get(key)
        if client is None:
            client = _kept[key] = SyncBridgeClient(key[0], _token(), timeout=timeout)
    return client


def screener(timeout: float = 120.0) -> SyncScreenerClient:
    return SyncScreenerClient(SETTINGS.screener_url, _token(), timeout=timeout)


def notifier(timeout: float = 8.0) -> SyncNotifierClient:
    return SyncNotifierClient(SETTINGS.notifier_url, _token(), timeout=timeout)
