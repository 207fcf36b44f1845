"""The web's own middleware: internal probes before the Host check, one thread per request.

SyncChainMiddleware runs the whole middleware chain in one thread under ASGI.

Django adapts each async-capable middleware around a sync view separately: eight middlewares
meant sixteen thread hops per request. A sync-only middleware at the innermost position makes
Django build the chain in sync mode and adapt it once, at the top. Async views (the SSE stream)
still run on the server's event loop.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound


class SyncChainMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


def _internal(request: HttpRequest) -> bool:
    """From the machine or its private network, and not relayed by the public proxy.

    A request through the TLS proxy (Traefik, Caddy) also arrives from a private address, but
    it carries the proxy's forwarding headers: that one came from outside.
    """
    meta = request.META
    if any(h in meta for h in ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")):
        return False
    try:
        address = ipaddress.ip_address(meta.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return address.is_loopback or address.is_private


class InternalProbeMiddleware:
    """`/healthz`, `/readyz` and `/metrics` for the machine and its private network.

    First in the chain: the container healthcheck (`http://127.0.0.1:8000/healthz`) and a
    Prometheus on the private network (`http://web:8000/metrics`) are answered before the
    `Host` check and the HTTPS redirect, so ALLOWED_HOSTS holds only the public names.
    `/metrics` is never served to the outside: the internal token is not accepted over a
    public (maybe plain-HTTP) route, and a request from outside gets 404.
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path not in ("/healthz", "/readyz", "/metrics"):
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            # Probes read; anything else takes the normal path (Host, CSRF, login).
            return self.get_response(request)
        internal = _internal(request)
        if path == "/metrics":
            if not internal:
                return HttpResponseNotFound("not found", content_type="text/plain")
            if self._token_ok(request):
                return self._metrics()
        elif internal:
            from wheeldesk_web.core import views

            return views.healthz(request) if path == "/healthz" else views.readyz(request)
        return self.get_response(request)

    @staticmethod
    def _token_ok(request: HttpRequest) -> bool:
        from wheeldesk.auth import token_ok

        from wheeldesk_web.config import SETTINGS

        token = SETTINGS.internal_api_token.get_secret_value()
        return token_ok(request.headers.get("Authorization"), token)

    @staticmethod
    def _metrics() -> HttpResponse:
        from prometheus_client import CONTENT_TYPE_LATEST

        from wheeldesk_web.core import instruments  # noqa: F401  (this process's, registered)
        from wheeldesk_web.core.metrics import exposition

        return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
