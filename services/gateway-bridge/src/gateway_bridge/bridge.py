"""Wires the bridge's parts together once: session, limits, market data, chains, orders, events."""

from __future__ import annotations

import logging

from ib_insync import IB
from wheeldesk import subjects
from wheeldesk.schemas.connection import ConnectionEvent, ConnectionStatus

from gateway_bridge import metrics
from gateway_bridge.account import AccountService
from gateway_bridge.chains import Chains
from gateway_bridge.connection import IBSession
from gateway_bridge.events import EventPublisher
from gateway_bridge.limits import LineBudget, RateLimiter
from gateway_bridge.marketdata import MarketData
from gateway_bridge.orders import OrderService
from gateway_bridge.settings import BridgeSettings
from gateway_bridge.streaming_set import StreamingSet
from gateway_bridge.tasks import background

log = logging.getLogger(__name__)


class Bridge:
    def __init__(self, settings: BridgeSettings, *, with_nats: bool = True) -> None:
        self.settings = settings
        ib = IB()
        # IB disconnects clients above 50 msg/s; ib_insync's own throttle is the backstop
        # for messages the bridge does not pace itself (cancels, sync requests).
        ib.client.MaxRequests = max(1, int(settings.ib_messages_per_second))
        self.session = IBSession(settings, ib)
        self.publisher = EventPublisher(settings.nats_url, settings.quote_publish_hz)
        self.with_nats = with_nats
        self.limiter = RateLimiter(settings.ib_messages_per_second)
        self.lines = LineBudget(settings.market_data_lines)
        self.md = MarketData(settings, self.session, self.limiter, self.lines, self.publisher)
        self.streaming = StreamingSet(self.md, self.publisher, persist=with_nats)
        self.chains = Chains(self.md)
        self.account = AccountService(self.session, self.publisher)
        self.orders = OrderService(settings, self.session, self.md, self.publisher)
        self.session.on_status(self._publish_status)
        metrics.LINES_IN_USE.set_function(lambda: self.lines.in_use)
        metrics.LINES_PEAK.set_function(lambda: self.lines.peak)
        metrics.LINES_CAPACITY.set_function(lambda: self.lines.capacity)
        metrics.LINES_WAITING.set_function(lambda: self.lines.waiting)
        metrics.PACING_WAIT.set_function(lambda: self.limiter.waited_seconds)
        metrics.RECONNECTS.set_function(lambda: self.session.connects)

    def _publish_status(self, status: ConnectionStatus) -> None:
        event = ConnectionEvent(**status.model_dump())
        self.publisher.spawn(subjects.CONNECTION, event)

    async def start(self) -> None:
        if self.with_nats:
            self.publisher.start()
            background(self.streaming.restore())
        self.session.start()

    async def stop(self) -> None:
        await self.session.stop()
        await self.publisher.stop()
