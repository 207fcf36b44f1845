"""The whole system on loopback: the tick pipeline to a browser's SSE stream, and a 50-symbol scan.

Ticks: the full stack (`Stack`: nats-server, tws-sim, bridge, screener, notifier, web) with
tws-sim stepping every 50 ms; a logged-in client reads `/live/stream` for N symbols while a
NATS subscriber counts `ibkr.quote.*`. Latency is from the quote's `ts` (the bridge stamps it
when ib_insync hands over the tick) to the SSE client holding the rendered price, so it spans
bridge → NATS → web hub → SSE → client. The bridge publishes each symbol at most
QUOTE_PUBLISH_HZ (4) times a second and the web keeps only the latest per element for a slow
client, so ticks/s is bounded by design (≈ 4 × symbols), not by capacity.
The latencies therefore include that publish window's wait (up to 250 ms for a tick that
arrives just after its symbol's last publication); `bench.gateway_bridge` shows the bridge
without it. At 50 symbols the SSE figures also carry the web rendering 160+ fragments a second.

Scan: `POST /v1/scans` to the screener for 50 symbols of tws-sim's universe (IB's limits on:
100 lines, 50 msg/s pacing), cold caches, through the bridge: wall time and signals found.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from datetime import datetime

import httpx
import nats
from wheeldesk import subjects
from wheeldesk.schemas.market import QuoteEvent
from wheeldesk.testing.e2e import login
from wheeldesk.testing.procs import TEST_TOKEN
from wheeldesk.testing.stack import Stack

WINDOW_SECONDS = 10.0
WARMUP_SECONDS = 4.0
AGE = re.compile(r'data-age-of="([^"]+)"')
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}"}


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def _sse(client: httpx.Client, symbols: list[str], stop_at: float, start_at: float, out: list):
    """Collect (receipt time, latency s) for every quote event between start_at and stop_at."""
    event = None
    with client.stream(
        "GET", "/live/stream", params={"symbols": ",".join(symbols)}, timeout=60
    ) as stream:
        for line in stream.iter_lines():
            now = time.time()
            if now > stop_at:
                return
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event and event.startswith("quote-"):
                match = AGE.search(line)
                if match and now >= start_at:
                    out.append(now - datetime.fromisoformat(match.group(1)).timestamp())


async def _nats_count(url: str, start_at: float, stop_at: float) -> tuple[int, list[float]]:
    nc = await nats.connect(url)
    count = 0
    latencies: list[float] = []
    try:
        sub = await nc.subscribe(f"{subjects.QUOTE_PREFIX}.*")
        while time.time() < stop_at:
            try:
                msg = await sub.next_msg(timeout=max(0.05, stop_at - time.time()))
            except (TimeoutError, nats.errors.TimeoutError):
                break
            now = time.time()
            if now < start_at:
                continue
            count += 1
            with contextlib.suppress(ValueError):
                latencies.append(now - QuoteEvent.model_validate_json(msg.data).ts.timestamp())
    finally:
        await nc.close()
    return count, latencies


def _pipeline(stack: Stack, client: httpx.Client, symbols: list[str]) -> list[dict]:
    answer = httpx.post(
        f"{stack.bridge_url}/v1/subscriptions",
        json={"symbols": symbols},
        headers=HEADERS,
        timeout=60,
    )
    answer.raise_for_status()
    start_at = time.time() + WARMUP_SECONDS
    stop_at = start_at + WINDOW_SECONDS
    sse: list[float] = []
    reader = threading.Thread(target=_sse, args=(client, symbols, stop_at, start_at, sse))
    reader.start()
    count, nats_lat = asyncio.run(_nats_count(stack.nats_url, start_at, stop_at))
    reader.join(WINDOW_SECONDS + 60)
    n = len(symbols)
    return [
        {"name": f"{n} symbol(s): quotes on NATS", "value": count / WINDOW_SECONDS,
         "unit": "ticks/s", "reference": f"≈ {4 * n} by design (4 Hz per symbol)"},
        {"name": f"{n} symbol(s): quotes at the SSE client", "value": len(sse) / WINDOW_SECONDS,
         "unit": "ticks/s", "reference": f"≈ {4 * n} by design"},
        {"name": f"{n} symbol(s): tick → NATS p50", "value": _pct(nats_lat, 50) * 1000,
         "unit": "ms"},
        {"name": f"{n} symbol(s): tick → SSE client p50", "value": _pct(sse, 50) * 1000,
         "unit": "ms"},
        {"name": f"{n} symbol(s): tick → SSE client p99", "value": _pct(sse, 99) * 1000,
         "unit": "ms"},
    ]  # fmt: skip


def _scan(stack: Stack, symbols: list[str]) -> list[dict]:
    start = time.perf_counter()
    answer = httpx.post(
        f"{stack.screener_url}/v1/scans",
        json={"symbols": symbols},
        headers=HEADERS,
        timeout=600,
    )
    wall = time.perf_counter() - start
    answer.raise_for_status()
    body = answer.json()
    signals = len(body.get("signals", [])) if isinstance(body, dict) else 0
    return [
        {"name": f"{len(symbols)}-symbol scan via screener + bridge (tws-sim, IB limits on)",
         "value": wall, "unit": "s", "reference": f"{signals} signals"},
    ]  # fmt: skip


def run() -> list[dict]:
    stack = Stack.start()
    try:
        stack.control("/control/tick-rate", {"ms": 50})
        market = stack.control("/market")["symbols"]
        # The most volatile first: its price moves on (nearly) every simulator step.
        universe = sorted(market, key=lambda s: -market[s]["volatility"])
        client = login(stack)
        rows: list[dict] = []
        try:
            for n in (1, 50):
                rows += _pipeline(stack, client, universe[:n])
        finally:
            client.close()
        httpx.post(
            f"{stack.bridge_url}/v1/subscriptions",
            json={"symbols": []},
            headers=HEADERS,
            timeout=60,
        )
        stack.control("/control/tick-rate", {"ms": 250})
        rows += _scan(stack, universe[:50])
        return rows
    finally:
        stack.stop()
