"""`/live/stream`: server-sent events for the htmx SSE extension (quotes, IBKR connection)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from django.http import HttpRequest, StreamingHttpResponse

from wheeldesk_web.live.hub import Listener, get_hub

KEEPALIVE_SECONDS = 15.0
COALESCE_SECONDS = 0.25
MAX_SYMBOLS = 200
SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")


def sse(event: str, data: str) -> str:
    lines = "\n".join(f"data: {line}" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n\n"


def parse_symbols(raw: str) -> frozenset[str]:
    parts = (p.strip().upper() for p in raw.split(","))
    return frozenset(p for p in parts if SYMBOL.match(p))


async def _events(listener: Listener, initial: dict[str, str]) -> AsyncIterator[str]:
    hub = get_hub()
    try:
        yield "retry: 3000\n\n"
        for name, html in initial.items():
            yield sse(name, html)
        while True:
            try:
                await asyncio.wait_for(listener.wake.wait(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            listener.wake.clear()
            pending, listener.pending = listener.pending, {}
            for name, html in pending.items():
                yield sse(name, html)
            await asyncio.sleep(COALESCE_SECONDS)
    finally:
        hub.unregister(listener)


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    symbols = frozenset(sorted(parse_symbols(request.GET.get("symbols", "")))[:MAX_SYMBOLS])
    hub = get_hub()
    listener = hub.register(symbols)
    initial = dict(hub.connection)
    initial.update({f"quote-{s}": hub.quotes[s] for s in symbols if s in hub.quotes})
    response = StreamingHttpResponse(_events(listener, initial), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
