"""The web's handles on the other services (HTTP clients configured from WebSettings).

Short timeouts: a page must render (with a banner) rather than hang when a service is down.
"""

from __future__ import annotations

from wheeldesk.clients import SyncBridgeClient, SyncNotifierClient, SyncScreenerClient

from wheeldesk_web.config import SETTINGS


def _token() -> str:
    return SETTINGS.internal_api_token.get_secret_value()


def bridge(timeout: float = 8.0) -> SyncBridgeClient:
    return SyncBridgeClient(SETTINGS.bridge_url, _token(), timeout=timeout)


def screener(timeout: float = 120.0) -> SyncScreenerClient:
    return SyncScreenerClient(SETTINGS.screener_url, _token(), timeout=timeout)


def notifier(timeout: float = 8.0) -> SyncNotifierClient:
    return SyncNotifierClient(SETTINGS.notifier_url, _token(), timeout=timeout)
