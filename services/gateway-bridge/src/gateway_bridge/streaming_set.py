"""The symbols the bridge streams, kept in a NATS KeyValue entry so they outlive the process.

The web sets the set over HTTP (`POST /v1/subscriptions`) when it changes: a watchlist ticker
added or removed, positions synced. The bridge owns it from then on: it writes it to the
`STREAMING` bucket (key `symbols.<IB client id>`) and, after its own restart, reads it back and streams the
same symbols again without any page view; after a Gateway reconnect `MarketData.resubscribe`
re-requests them from memory. Writes are retried in the background until NATS takes them
(the latest set wins), so a NATS outage never fails the web's request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue
from wheeldesk import subjects

from gateway_bridge.events import EventPublisher
from gateway_bridge.marketdata import MarketData
from gateway_bridge.tasks import background

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0


async def open_bucket(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(subjects.KV_STREAMING)
    except BucketNotFoundError:
        config = KeyValueConfig(bucket=subjects.KV_STREAMING, history=1, storage=StorageType.FILE)
        return await js.create_key_value(config)


class StreamingSet:
    """Persists `MarketData`'s wanted symbols and restores them at start-up."""

    def __init__(self, md: MarketData, publisher: EventPublisher, *, persist: bool = True) -> None:
        self.md = md
        self.publisher = publisher
        self.persist = persist  # False: a bridge run without NATS keeps the set in memory only
        self.key = subjects.streaming_key(md.settings.ib_client_id)
        self.restored: list[str] | None = None  # what start-up read back (None: not yet)
        self._pending: list[str] | None = None
        self._writer: asyncio.Future[Any] | None = None
        self._set_by_request = False

    async def set(self, symbols: list[str]) -> dict[str, Any]:
        """The web's new set: stream it now, persist it (in the background until NATS takes it)."""
        self._set_by_request = True
        result = await self.md.set_subscriptions(symbols)
        if not self.persist:
            return result
        self._pending = list(self.md.wanted)
        if self._writer is None or self._writer.done():
            self._writer = background(self._write())
        return result

    async def _bucket(self) -> KeyValue:
        while self.publisher.js is None:
            await asyncio.sleep(RETRY_SECONDS / 10)
        return await open_bucket(self.publisher.js)

    async def _write(self) -> None:
        while self._pending is not None:
            symbols = self._pending
            try:
                kv = await self._bucket()
                await kv.put(self.key, json.dumps(symbols).encode())
            except Exception as exc:
                log.warning("could not persist the streaming set (%s); retrying", exc)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if self._pending is symbols:
                self._pending = None

    async def restore(self) -> None:
        """Read the persisted set once NATS is up and stream it (unless the web set one first)."""
        while True:
            try:
                kv = await self._bucket()
                try:
                    entry = await kv.get(self.key)
                    symbols = [str(s) for s in json.loads(entry.value or b"[]")]
                except KeyNotFoundError:
                    symbols = []
                break
            except Exception as exc:
                log.warning("could not read the streaming set (%s); retrying", exc)
                await asyncio.sleep(RETRY_SECONDS)
        self.restored = symbols
        if symbols and not self._set_by_request:
            await self.md.set_subscriptions(symbols)
            log.info("restored the streaming set: %d symbols", len(symbols))
