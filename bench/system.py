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
without it. At 50 symbols the SSE figures also carry the web rendering 160+ fragments a second,
and every SSE stream pauses 250 ms between its batches (`COALESCE_SECONDS` in the web's
`live/views.py`), so SSE p50 sits near 200 ms once a stream has several symbols.

200 symbols need more than IB's default 100 market-data lines, so that run has a stack of its
own started as a user with a bigger IB subscription would run it: tws-sim `--max-lines 300`
(and `--extra-symbols 150`, its universe file holds 50), the bridge `MARKET_DATA_LINES=300`,
`STREAM_LINES_MAX=250`. Each run also counts where ticks went: tws-sim's stream updates to the
bridge (and any it skipped for a congested client: dropped), quotes on NATS (the bridge
coalesces each symbol to 4 Hz, latest wins) and SSE events at the client (the web coalesces
per element, latest wins); the differences are reported as coalesced, not as lost.

Scan: `POST /v1/scans` to the screener for 50 symbols of tws-sim's universe (IB's limits on:
100 lines, 50 msg/s pacing), cold caches (it runs first on a fresh stack), through the bridge:
wall time, signals found, and the IB requests it cost from tws-sim's request counter
(`GET /state/requests`, reset just before the scan).
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
from wheeldesk_testing.e2e import login
from wheeldesk_testing.procs import TEST_TOKEN
from wheeldesk_testing.stack import Stack

WINDOW_SECONDS = 10.0
WARMUP_SECONDS = 4.0
AGE = re.compile(r'data-age-of="([^"]+)"')
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}"}
BIG_LINES = 300
BIG_STACK = {
    "tws_args": ["--extra-symbols", "150", "--max-lines", str(BIG_LINES)],
    "bridge_env": {"MARKET_DATA_LINES": str(BIG_LINES), "STREAM_LINES_MAX": "250"},
}


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


class _Window:
    """tws-sim's streamed counts over the measuring window (reset at its start, read at its end)."""

    def __init__(self, stack: Stack, start_at: float, stop_at: float) -> None:
        self.streamed: dict = {}
        self._timers = [
            threading.Timer(start_at - time.time(), stack.control, ("/control/reset-counters", {})),
            threading.Timer(stop_at - time.time(), self._read, (stack,)),
        ]
        for timer in self._timers:
            timer.start()

    def _read(self, stack: Stack) -> None:
        self.streamed = stack.control("/state/requests")["streamed"]

    def join(self) -> dict:
        for timer in self._timers:
            timer.join()
        return self.streamed


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
    subscribed = answer.json()
    start_at = time.time() + WARMUP_SECONDS
    stop_at = start_at + WINDOW_SECONDS
    window = _Window(stack, start_at, stop_at)
    sse: list[float] = []
    reader = threading.Thread(target=_sse, args=(client, symbols, stop_at, start_at, sse))
    reader.start()
    count, nats_lat = asyncio.run(_nats_count(stack.nats_url, start_at, stop_at))
    reader.join(WINDOW_SECONDS + 60)
    streamed = window.join()
    n = len(symbols)
    w = WINDOW_SECONDS
    updates, skipped = streamed.get("updates", 0), streamed.get("skipped_congested", 0)
    capacity = subscribed.get("lines_capacity", 0)
    label = f"{n} symbol(s)" + (f", {capacity} IB lines" if capacity > 100 else "")
    lines = f"; a bigger IB subscription ({capacity} lines, IB's default 100)" * (capacity > 100)
    streams = len(subscribed.get("streaming", []))
    return [
        {"name": f"{label}: streams open at the bridge", "value": streams,
         "unit": "symbols", "reference": f"{len(subscribed.get('errors', {}))} refused{lines}"},
        {"name": f"{label}: tws-sim → bridge quote updates", "value": updates / w,
         "unit": "updates/s",
         "reference": f"{streamed.get('ticks', 0) / w:,.0f} tick msgs/s; "
                      f"{skipped} line updates dropped (congested client)"},
        {"name": f"{label}: quotes on NATS", "value": count / w,
         "unit": "ticks/s", "reference": f"≈ {4 * n} by design (4 Hz per symbol)"},
        {"name": f"{label}: coalesced by the bridge (latest wins)",
         "value": max(0, updates - count) / w, "unit": "updates/s",
         "reference": f"{max(0, updates - count) / max(updates, 1):.0%} of tws-sim's updates"},
        {"name": f"{label}: quotes at the SSE client", "value": len(sse) / w,
         "unit": "ticks/s", "reference": f"≈ {4 * n} by design"},
        {"name": f"{label}: coalesced by the web (latest wins)",
         "value": max(0, count - len(sse)) / w, "unit": "ticks/s",
         "reference": f"{max(0, count - len(sse)) / max(count, 1):.0%} of NATS quotes"},
        {"name": f"{label}: tick → NATS p50", "value": _pct(nats_lat, 50) * 1000,
         "unit": "ms"},
        {"name": f"{label}: tick → NATS p99", "value": _pct(nats_lat, 99) * 1000,
         "unit": "ms"},
        {"name": f"{label}: tick → SSE client p50", "value": _pct(sse, 50) * 1000,
         "unit": "ms"},
        {"name": f"{label}: tick → SSE client p99", "value": _pct(sse, 99) * 1000,
         "unit": "ms"},
    ]  # fmt: skip


def _ticks(generic: dict[str, int]) -> str:
    """`{"101": 774, "258": 50}` → `101 ×774, 258 ×50` (101 open interest, 106 IV, 258/456
    fundamentals and dividends)."""
    return ", ".join(f"{tick} ×{n}" for tick, n in generic.items()) or "none"


def _scan(stack: Stack, symbols: list[str]) -> list[dict]:
    stack.control("/control/reset-counters", {})
    start = time.perf_counter()
    answer = httpx.post(
        f"{stack.screener_url}/v1/scans",
        json={"symbols": symbols},
        headers=HEADERS,
        timeout=600,
    )
    wall = time.perf_counter() - start
    answer.raise_for_status()
    cost = stack.control("/state/requests")
    body = answer.json()
    signals = len(body.get("signals", [])) if isinstance(body, dict) else 0
    n = len(symbols)
    req, md = cost["requests"], cost["market_data"]
    ticks = md["generic_ticks"]
    scan = f"{n}-symbol scan"
    return [
        {"name": f"{scan} via screener + bridge (tws-sim, IB limits on)",
         "value": wall, "unit": "s", "reference": f"{signals} signals"},
        {"name": f"{scan}: IB requests in all", "value": cost["total"], "unit": "requests",
         "reference": f"{cost['total'] / n:.1f} per symbol; {cost['total'] / wall:.1f}/s "
                      f"(IB: 50/s); {cost['pacing_rejected']} refused for pacing"},
        {"name": f"{scan}: contract details (reqContractDetails)",
         "value": req.get("reqContractDetails", 0), "unit": "requests",
         "reference": f"{req.get('reqContractDetails', 0) / n:.1f} per symbol"},
        {"name": f"{scan}: option parameters (reqSecDefOptParams)",
         "value": req.get("reqSecDefOptParams", 0), "unit": "requests",
         "reference": f"{req.get('reqSecDefOptParams', 0) / n:.1f} per symbol"},
        {"name": f"{scan}: market data snapshots (reqMktData snapshot)",
         "value": md["snapshots"], "unit": "requests",
         "reference": f"{md['snapshots'] / n:.1f} per symbol"},
        {"name": f"{scan}: market data lines (reqMktData streaming)",
         "value": md["streams"], "unit": "requests",
         "reference": f"{md['streams'] / n:.1f} per symbol; {req.get('cancelMktData', 0)} "
                      f"cancelMktData; generic ticks {_ticks(ticks)}"},
        {"name": f"{scan}: fundamentals (generic tick 258)", "value": ticks.get("258", 0),
         "unit": "requests", "reference": f"{ticks.get('258', 0) / n:.1f} per symbol"},
        {"name": f"{scan}: historical data (reqHistoricalData)",
         "value": req.get("reqHistoricalData", 0), "unit": "requests",
         "reference": f"{req.get('reqHistoricalData', 0) / n:.1f} per symbol"},
    ]  # fmt: skip


def _subscribe_none(stack: Stack) -> None:
    httpx.post(
        f"{stack.bridge_url}/v1/subscriptions", json={"symbols": []}, headers=HEADERS, timeout=60
    )


def _by_volatility(stack: Stack) -> list[str]:
    """The most volatile first: its price moves on (nearly) every simulator step."""
    market = stack.control("/market")["symbols"]
    return sorted(market, key=lambda s: -market[s]["volatility"])


def _streams(stack: Stack, counts: tuple[int, ...]) -> list[dict]:
    stack.control("/control/tick-rate", {"ms": 50})
    universe = _by_volatility(stack)
    client = login(stack)
    rows: list[dict] = []
    try:
        for n in counts:
            rows += _pipeline(stack, client, universe[:n])
    finally:
        client.close()
        _subscribe_none(stack)
    return rows


def run() -> list[dict]:
    rows: list[dict] = []
    stack = Stack.start()
    try:
        # The scan first, on cold caches (streaming would warm the bridge's contract cache).
        rows += _scan(stack, _by_volatility(stack)[:50])
        rows += _streams(stack, (1, 50))
    finally:
        stack.stop()
    stack = Stack.start(**BIG_STACK)  # type: ignore[arg-type]
    try:
        rows += _streams(stack, (200,))
    finally:
        stack.stop()
    return rows
