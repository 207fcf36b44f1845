"""A time-based cache whose concurrent misses for one key share one fetch.

The bridge's answer to IB's limits: a contract, a snapshot quote, a stock's info or a
history asked twice within its TTL, or by two callers at once, costs IB one request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class TTLCache:
    """A tiny time-based cache with per-key in-flight coalescing."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._data: dict[Any, tuple[float, Any]] = {}
        self._inflight: dict[Any, asyncio.Future[Any]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> Any | None:
        item = self._data.get(key)
        if item and time.monotonic() - item[0] < self.ttl:
            return item[1]
        return None

    def put(self, key: Any, value: Any) -> None:
        self._data[key] = (time.monotonic(), value)
        if len(self._data) > 5000:
            cutoff = time.monotonic() - self.ttl
            self._data = {k: v for k, v in self._data.items() if v[0] >= cutoff}

    def clear(self) -> None:
        self._data.clear()

    async def get_or_fetch(self, key: Any, fetch: Callable[[], Awaitable[T]]) -> T:
        cached = self.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        inflight = self._inflight.get(key)
        if inflight is not None:
            self.hits += 1
            return await asyncio.shield(inflight)
        self.misses += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            value = await fetch()
        except BaseException as exc:
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: no "never retrieved" warning
            raise
        finally:
            self._inflight.pop(key, None)
        if self.ttl > 0:
            self.put(key, value)
        fut.set_result(value)
        return value
