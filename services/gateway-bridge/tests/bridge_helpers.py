"""Helpers for bridge tests: start a bridge against tws-sim + nats-server, call control APIs."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from wheeldesk.clients import SyncBridgeClient
from wheeldesk.schemas.market import OptionQuote
from wheeldesk.schemas.orders import OrderRequest
from wheeldesk_testing.procs import TEST_TOKEN, Proc
from wheeldesk_testing.waits import await_until as await_until
from wheeldesk_testing.waits import wait_until

_client_ids = itertools.count(100 + (os.getpid() % 500) * 10)
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
# The harness's poll loops (wheeldesk_testing.waits), under the names these tests use.
wait_for = wait_until


def bridge_env(tws: Proc, nats_url: str, **extra: str) -> dict[str, str]:
    return {
        "IB_PORT": str(tws.port),
        "NATS_URL": nats_url,
        "IB_CLIENT_ID": str(next(_client_ids)),
        "IB_RECONNECT_MAX_SECONDS": "1",
        "IB_REQUEST_TIMEOUT": "15",
        **extra,
    }


def sell_at_ask(quote: OptionQuote, client_order_id: str) -> OrderRequest:
    """Sell one of a chain's options at its ask: a limit that rests (a seller's far side) and
    can be stepped toward the bid."""
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=quote.contract.symbol,
        expiry=quote.contract.expiry,
        strike=quote.contract.strike,
        right=quote.contract.right,
        action="SELL",
        quantity=1,
        limit_price=Decimal(str(quote.ask)),
    )


def ctl(tws: Proc, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call tws-sim's control API (POST with a body, GET without)."""
    url = f"{tws.control_url}{path}"  # type: ignore[attr-defined]
    r = httpx.post(url, json=body, timeout=10) if body is not None else httpx.get(url, timeout=10)
    r.raise_for_status()
    return r.json()


def api(bridge: Proc, method: str, path: str, **kw: Any) -> httpx.Response:
    kw.setdefault("timeout", 60)
    return httpx.request(method, f"{bridge.url}{path}", headers=AUTH, **kw)


def client(bridge: Proc) -> SyncBridgeClient:
    return SyncBridgeClient(bridge.url, TEST_TOKEN, timeout=60)


def metric(bridge: Proc, name: str) -> float:
    text = httpx.get(f"{bridge.url}/metrics", headers=AUTH, timeout=10).text
    total = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            key = line.split(" ")[0]
            if key == name or key.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
                found = True
    if not found and f"# TYPE {name} " not in text:
        raise KeyError(name)
    return total


class Collector:
    """Collects NATS messages on a subject pattern (core subscription sees JetStream too)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.nc: Any = None

    async def start(self, url: str, subject: str = "ibkr.>") -> Collector:
        import nats

        self.nc = await nats.connect(url)

        async def on_msg(msg: Any) -> None:
            self.messages.append((msg.subject, msg.data))

        await self.nc.subscribe(subject, cb=on_msg)
        await self.nc.flush()
        return self

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()

    def matching(self, prefix: str) -> list[tuple[str, bytes]]:
        return [(s, d) for s, d in self.messages if s == prefix or s.startswith(prefix + ".")]

    async def wait(
        self, predicate: Callable[[str, bytes], bool], timeout: float = 30.0, what: str = ""
    ) -> tuple[str, bytes]:
        import asyncio

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for subject, data in self.messages:
                if predicate(subject, data):
                    return subject, data
            await asyncio.sleep(0.05)
        seen = sorted({s for s, _ in self.messages})
        raise AssertionError(f"no NATS message for {what}; subjects seen: {seen}")
