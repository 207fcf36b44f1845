"""IB's two hard limits, enforced by the bridge before IB enforces them for us.

IB disconnects a client that sends more than 50 messages per second, and answers
error 101 ("max number of tickers reached") when more market data lines are open
than the account's allowance (100 by default). Both are shared by every caller of
the bridge, so they live here as plain asyncio primitives: a token-bucket
`RateLimiter` and a `LineBudget` that queues waiters fairly (round-robin between
owners, FIFO within one) so a 300-contract chain never starves a single quote.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress


class QueueTimeout(Exception):
    """A request waited longer than allowed for an IB resource (maps to HTTP 429)."""

    def __init__(self, what: str, waited: float) -> None:
        super().__init__(f"waited {waited:.1f}s for {what}")
        self.what = what
        self.waited = waited


class RateLimiter:
    """Token bucket: at most `rate` acquisitions per second, bursts up to `burst`.

    Waiters are served in arrival order (an asyncio.Lock is FIFO), so one caller
    sending hundreds of requests cannot jump ahead of one that arrived earlier.
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        # Any one-second window sees at most burst + rate acquisitions: keep the burst small
        # so that sum stays under IB's 50 msg/s with the default rate of 45.
        self.burst = burst if burst is not None else max(1.0, min(3.0, rate / 15))
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()
        self.acquired = 0
        self.waited_seconds = 0.0

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, n: float = 1.0) -> None:
        start = time.monotonic()
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= n:
                    self._tokens -= n
                    break
                await asyncio.sleep((n - self._tokens) / self.rate)
        self.acquired += 1
        self.waited_seconds += time.monotonic() - start


class LineBudget:
    """A counting semaphore of market data lines with fair, per-owner round-robin queueing."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.in_use = 0
        self.peak = 0
        self._queues: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    @property
    def free(self) -> int:
        return self.capacity - self.in_use

    def try_acquire(self) -> bool:
        """Take a line only if one is free and nobody is queued (streams use this)."""
        if self.in_use < self.capacity and not self.waiting:
            self._take()
            return True
        return False

    def _take(self) -> None:
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)

    async def acquire(self, owner: str = "", timeout: float | None = None) -> None:
        if self.in_use < self.capacity and not self.waiting:
            self._take()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(owner, deque()).append(fut)
        start = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if fut.done() and not fut.cancelled():
                # Granted at the very moment we gave up: hand the line on.
                self.release()
            else:
                fut.cancel()
                self._discard(owner, fut)
            if isinstance(exc, TimeoutError):
                raise QueueTimeout("a market data line", time.monotonic() - start) from None
            raise

    def _discard(self, owner: str, fut: asyncio.Future[None]) -> None:
        queue = self._queues.get(owner)
        if queue is None:
            return
        with suppress(ValueError):
            queue.remove(fut)
        if not queue:
            self._queues.pop(owner, None)

    def release(self) -> None:
        """Free one line; the next owner in rotation gets it."""
        while self._queues:
            owner, queue = next(iter(self._queues.items()))
            fut = queue.popleft()
            # Rotate: this owner goes to the back so others get the next line.
            self._queues.pop(owner)
            if queue:
                self._queues[owner] = queue
            if not fut.done():
                fut.set_result(None)  # the line passes on directly; in_use unchanged
                return
        self.in_use = max(0, self.in_use - 1)

    def release_many(self, n: int) -> None:
        for _ in range(n):
            self.release()

    @asynccontextmanager
    async def line(self, owner: str = "", timeout: float | None = None) -> AsyncIterator[None]:
        await self.acquire(owner, timeout)
        try:
            yield
        finally:
            self.release()
