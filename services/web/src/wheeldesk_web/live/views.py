"""`/live/stream`: server-sent events for the htmx SSE extension (quotes, IBKR connection)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.db import connections
from django.http import HttpRequest, StreamingHttpResponse

from wheeldesk_web.core.status import service_status
from wheeldesk_web.live.hub import Listener, connection_events, get_hub

KEEPALIVE_SECONDS = 5.0
COALESCE_SECONDS = 0.25
MAX_SYMBOLS = 200
SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")


def sse(event: str, data: str) -> str:
    lines = "\n".join(f"data: {line}" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n\n"


def parse_symbols(raw: str) -> frozenset[str]:
    parts = (p.strip().upper() for p in raw.split(","))
    return frozenset(p for p in parts if SYMBOL.match(p))


async def _events(
    listener: Listener, initial: dict[str, str], bridge_up: bool
) -> AsyncIterator[str]:
    hub = get_hub()
    try:
        yield "retry: 3000\n\n"
        for name, html in initial.items():
            yield sse(name, html)
        while True:
            try:
                await asyncio.wait_for(listener.wake.wait(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                # A bridge that dies publishes nothing: notice it by probing (cached per process).
                state = (await sync_to_async(service_status, thread_sensitive=False)())["bridge"]
                if state.up != bridge_up:
                    for name, html in connection_events(state).items():
                        yield sse(name, html)
                else:
                    yield ": keepalive\n\n"
                bridge_up = state.up
                continue
            if listener.closed:
                return
            listener.wake.clear()
            pending, listener.pending = listener.pending, {}
            for name, html in pending.items():
                yield sse(name, html)
            await asyncio.sleep(COALESCE_SECONDS)
    finally:
        hub.unregister(listener)


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    symbols = frozenset(sorted(parse_symbols(request.GET.get("symbols", "")))[:MAX_SYMBOLS])
    # The login check opened a connection on this request's thread; a stream that lasts for
    # hours must not keep it (connections are kept only by the page threads, asgi.py).
    await sync_to_async(connections.close_all)()
    hub = get_hub()
    # The page was rendered with the current connection state; only newer news is streamed.
    bridge = (await sync_to_async(service_status, thread_sensitive=False)())["bridge"]
    listener = hub.register(symbols)
    initial = {f"quote-{s}": hub.quotes[s] for s in symbols if s in hub.quotes}
    events = _events(listener, initial, bridge.up)
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
