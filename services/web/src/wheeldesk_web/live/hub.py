"""One NATS subscription per web process, fanned out to every open browser over SSE.

Browsers never poll the bridge: the bridge publishes quotes on `ibkr.quote.<SYMBOL>` and its
connection state on `ibkr.connection`; this hub keeps the latest of each and wakes the
streams that care. Each stream coalesces (latest wins), so a fast ticker cannot flood a phone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from django.template.loader import render_to_string
from pydantic import ValidationError
from wheeldesk import natsconn, subjects
from wheeldesk.schemas.connection import ConnectionEvent
from wheeldesk.schemas.market import QuoteEvent
from wheeldesk.schemas.orders import OrderEvent

from wheeldesk_web.config import SETTINGS
from wheeldesk_web.core.instruments import SSE_CLIENTS, SSE_CONNECTIONS
from wheeldesk_web.core.status import ServiceState

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Listener:
    symbols: frozenset[str]
    pending: dict[str, str] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def push(self, name: str, html: str) -> None:
        self.pending[name] = html
        self.wake.set()


def render_quote(quote: QuoteEvent) -> str:
    return render_to_string(
        "core/partials/price.html",
        {
            "value": quote.price,
            "ts": quote.ts,
            "data_type": quote.market_data_type.value,
            "places": 2,
        },
    )


def bridge_state(event: ConnectionEvent) -> ServiceState:
    up = event.connected and event.state not in ("disconnected", "connectivity_lost")
    detail = event.reason or event.state.replace("_", " ")
    return ServiceState("bridge", up, "IBKR connected" if up else "IBKR disconnected", detail)


def connection_events(state: ServiceState) -> dict[str, str]:
    return {
        "ibkr-banner": render_to_string("core/partials/ibkr_banner.html", {"bridge": state}),
        "ibkr-pill": render_to_string("core/partials/ibkr_pill.html", {"bridge": state}),
    }


class Hub:
    def __init__(self, nats_url: str) -> None:
        self.nats_url = nats_url
        self.listeners: set[Listener] = set()
        self.quotes: dict[str, str] = {}
        self.connection: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._nc = None
        self.received = 0

    def start(self) -> None:
        """Connect once per process: every SSE client calls this, and a finished `_run` (it
        returns once subscribed) used to mean a new connection each time ("nats connected"
        289 times at `make run`). After a failure `_nc` is None and the next client retries;
        once connected, nats-py reconnects by itself."""
        if self._nc is not None or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            self._nc = await natsconn.connect(self.nats_url, name="web-live")
            await self._nc.subscribe(f"{subjects.QUOTE_PREFIX}.*", cb=self._on_quote)
            await self._nc.subscribe(subjects.CONNECTION, cb=self._on_connection)
            await self._nc.subscribe(f"{subjects.ORDER_PREFIX}.*", cb=self._on_order)
        except Exception:
            log.exception("live hub could not subscribe to NATS")
            self._nc = None
            self._task = None

    async def _on_quote(self, msg) -> None:  # type: ignore[no-untyped-def]
        try:
            quote = QuoteEvent.model_validate_json(msg.data)
        except ValidationError as exc:
            log.warning("skipping malformed quote on %s: %s", msg.subject, exc.errors()[:1])
            return
        self.received += 1
        symbol = quote.symbol.upper()
        watchers = [lis for lis in self.listeners if symbol in lis.symbols]
        html = render_quote(quote)
        self.quotes[symbol] = html
        for listener in watchers:
            listener.push(f"quote-{symbol}", html)

    async def _on_connection(self, msg) -> None:  # type: ignore[no-untyped-def]
        try:
            event = ConnectionEvent.model_validate_json(msg.data)
        except ValidationError as exc:
            log.warning("skipping malformed connection event: %s", exc.errors()[:1])
            return
        self.connection = connection_events(bridge_state(event))
        for listener in self.listeners:
            for name, html in self.connection.items():
                listener.push(name, html)

    async def _on_order(self, msg) -> None:  # type: ignore[no-untyped-def]
        """An order changed: wake its order page, which re-fetches its status block."""
        try:
            event = OrderEvent.model_validate_json(msg.data)
        except ValidationError as exc:
            log.warning("skipping malformed order event: %s", exc.errors()[:1])
            return
        for listener in self.listeners:
            listener.push(f"order-{event.order.client_order_id}", event.order.status.value)

    def register(self, symbols: frozenset[str]) -> Listener:
        listener = Listener(symbols)
        self.listeners.add(listener)
        SSE_CLIENTS.inc()  # counted as they come and go: a multiprocess gauge has no callback
        SSE_CONNECTIONS.inc()
        return listener

    def unregister(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.discard(listener)
            SSE_CLIENTS.dec()

    def close_streams(self) -> None:
        """End every stream (the server is stopping): each finishes its response at once."""
        for listener in self.listeners:
            listener.closed = True
            listener.wake.set()


_hubs: dict[int, Hub] = {}


def close_all_streams() -> None:
    """Called on the event loop by the server's shutdown (server.py): uvicorn waits for every
    open response, and a live stream never ends by itself; browsers reconnect (`retry:`)."""
    for hub in _hubs.values():
        hub.close_streams()


def get_hub() -> Hub:
    """The process's hub, bound to the running event loop (one per loop)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(id(loop))
    if hub is None:
        hub = _hubs[id(loop)] = Hub(SETTINGS.nats_url)
    hub.start()
    return hub
