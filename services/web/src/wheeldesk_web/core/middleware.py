"""Run the whole middleware chain in one thread under ASGI.

Django adapts each async-capable middleware around a sync view separately: eight middlewares
meant sixteen thread hops per request. A sync-only middleware at the innermost position makes
Django build the chain in sync mode and adapt it once, at the top. Async views (the SSE stream)
still run on the server's event loop.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SyncChainMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
