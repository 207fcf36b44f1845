"""Helpers for tws-sim tests: control-API calls, unique client ids, condition waits."""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
from ib_insync import IB, Stock, Ticker
from wheeldesk_testing.procs import Proc
from wheeldesk_testing.waits import await_until

_client_ids = itertools.count(100)


def ctl(sim: Proc, path: str, body: dict | None = None) -> Any:
    url = sim.control_url + path  # type: ignore[attr-defined]
    r = (
        httpx.post(url, json=body or {}, timeout=30)
        if body is not None
        else httpx.get(url, timeout=30)
    )
    assert r.status_code == 200, r.text
    return r.json()


def next_client_id() -> int:
    return next(_client_ids)


class ErrorLog:
    """Collects (reqId, code, message) from ib.errorEvent."""

    def __init__(self, ib: IB) -> None:
        self.items: list[tuple[int, int, str]] = []
        ib.errorEvent += self.on_error

    def on_error(self, req_id: int, code: int, msg: str, contract: Any = None) -> None:
        self.items.append((req_id, code, msg))

    def codes(self) -> list[int]:
        return [c for _, c, _ in self.items]


async def connect(
    sim: Proc, *, client_id: int | None = None, readonly: bool = False, timeout: float = 20
) -> tuple[IB, ErrorLog]:
    ib = IB()
    errors = ErrorLog(ib)
    await ib.connectAsync(
        "127.0.0.1",
        sim.port,
        clientId=client_id or next_client_id(),
        timeout=timeout,
        readonly=readonly,
    )
    return ib, errors


# The harness's poll loop, polling fast: tws-sim answers in milliseconds.
wait_for = functools.partial(await_until, interval=0.02)


@contextlib.asynccontextmanager
async def ticking(sim: Proc, symbol: str = "KO") -> AsyncIterator[tuple[IB, ErrorLog, Ticker]]:
    """A client whose live line on `symbol` has ticked: the stream a fault test interrupts.
    Disconnects on the way out."""
    ib, errors = await connect(sim)
    try:
        [c] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
        t = ib.reqMktData(c, "", False, False)
        await wait_for(lambda: t.bid > 0, what="ticks")
        yield ib, errors, t
    finally:
        ib.disconnect()
