"""NATS publishing: quotes on core NATS (coalesced per symbol), the rest on JetStream.

Quotes are high-rate and only the latest matters, so each symbol publishes at
most `quote_publish_hz` times a second: the first tick after a quiet period goes
out at once (low latency), later ticks inside the window replace each other and
the latest is flushed when the window ends. Account, position, order, execution
and connection events go to JetStream stream IBKR, deduplicated by event id; a
NATS outage never blocks or fails an IB operation (the event is logged and lost,
the HTTP API stays the source of truth).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from pydantic import BaseModel
from wheeldesk import natsconn, subjects
from wheeldesk.schemas.market import Quote, QuoteEvent

from gateway_bridge.tasks import background

log = logging.getLogger(__name__)


class EventPublisher:
    def __init__(self, url: str, quote_hz: float) -> None:
        self.url = url
        self.min_interval = 1.0 / quote_hz
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_sent: dict[str, float] = {}
        self._pending: dict[str, Quote] = {}
        self._flush_handles: dict[str, asyncio.TimerHandle] = {}
        self._backlog: deque[tuple[str, BaseModel, str | None]] = deque(maxlen=10_000)
        self._retry_handle: asyncio.TimerHandle | None = None
        self._draining = False
        self.published = 0
        self.quotes_published = 0
        self.failed = 0

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name="nats-connect")

    async def _connect(self) -> None:
        nc = await natsconn.connect(self.url, name="gateway-bridge")
        js = nc.jetstream()
        while True:
            try:
                await natsconn.ensure_streams(js, [subjects.STREAM_IBKR])
                break
            except Exception as exc:
                log.warning("JetStream stream setup failed (%s); retrying", exc)
                await asyncio.sleep(1)
        self.nc, self.js = nc, js
        await self._drain()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for handle in self._flush_handles.values():
            handle.cancel()
        if self._retry_handle is not None:
            self._retry_handle.cancel()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.drain()

    async def publish(self, subject: str, event: BaseModel, msg_id: str | None = None) -> None:
        """JetStream publish, deduplicated; never raises.

        While NATS is not reachable (start-up, a restart of nats-server) events wait in a
        bounded backlog, in order, and are retried every second; the event id is the
        `Nats-Msg-Id`, so a retry of an event that did arrive is dropped by JetStream."""
        if self.js is None or self._backlog:
            self._enqueue(subject, event, msg_id)
            return
        try:
            await natsconn.publish_event(self.js, subject, event, msg_id=msg_id)
            self.published += 1
        except Exception as exc:
            log.warning("publishing %s failed (%s); will retry", subject, exc)
            self._enqueue(subject, event, msg_id)

    def _enqueue(self, subject: str, event: BaseModel, msg_id: str | None) -> None:
        if len(self._backlog) == self._backlog.maxlen:
            self.failed += 1
            log.warning("NATS backlog full; dropped the oldest event")
        self._backlog.append((subject, event, msg_id or str(getattr(event, "event_id", ""))))
        if self.js is not None and self._retry_handle is None and not self._draining:
            loop = asyncio.get_running_loop()
            self._retry_handle = loop.call_later(1.0, lambda: background(self._drain()))

    async def _drain(self) -> None:
        self._retry_handle = None
        if self._draining or self.js is None:
            return
        self._draining = True
        try:
            while self._backlog:
                subject, event, msg_id = self._backlog[0]
                try:
                    await natsconn.publish_event(self.js, subject, event, msg_id=msg_id)
                except Exception as exc:
                    log.warning(
                        "NATS still failing (%s); %d events waiting", exc, len(self._backlog)
                    )
                    loop = asyncio.get_running_loop()
                    self._retry_handle = loop.call_later(1.0, lambda: background(self._drain()))
                    return
                self._backlog.popleft()
                self.published += 1
        finally:
            self._draining = False

    def spawn(self, subject: str, event: BaseModel, msg_id: str | None = None) -> None:
        background(self.publish(subject, event, msg_id))

    # ---- quotes --------------------------------------------------------------------------
    def quote(self, quote: Quote) -> None:
        """Offer a fresh quote; it is sent now or at the end of this symbol's window."""
        symbol = quote.symbol
        now = time.monotonic()
        last = self._last_sent.get(symbol, 0.0)
        if now - last >= self.min_interval and symbol not in self._flush_handles:
            self._send_quote(quote, now)
            return
        self._pending[symbol] = quote
        if symbol not in self._flush_handles:
            delay = max(0.0, last + self.min_interval - now)
            loop = asyncio.get_running_loop()
            self._flush_handles[symbol] = loop.call_later(delay, self._flush, symbol)

    def _flush(self, symbol: str) -> None:
        self._flush_handles.pop(symbol, None)
        quote = self._pending.pop(symbol, None)
        if quote is not None:
            self._send_quote(quote, time.monotonic())

    def _send_quote(self, quote: Quote, now: float) -> None:
        self._last_sent[quote.symbol] = now
        if self.nc is None or not self.nc.is_connected:
            return
        # The quote was validated when built; skip a second validation on the hot path.
        event = QuoteEvent.model_construct(**dict(quote))
        try:
            # Core NATS publish only buffers; the client flushes in the background.
            background(self.nc.publish(subjects.quote(quote.symbol), natsconn.encode(event)))
            self.quotes_published += 1
        except Exception as exc:
            log.warning("quote publish failed: %s", exc)
