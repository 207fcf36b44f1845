"""gateway-bridge: a 20-symbol watchlist chain fetch and quote-to-NATS latency against tws-sim.

Chains: tws-sim with IB's limits on (100 market data lines, 50 messages/s), the
bridge with its defaults, 20 put chains (DTE 7-60, |delta| 0.10-0.40) fetched the
way the screener does (4 concurrent requests), cold caches: wall time, and option
quotes requested versus contracts returned (strike pre-selection; target <= 2x).
The wall time is bound by IB's pacing: each contract costs one snapshot, or on
first sight a stream + cancel (open interest needs tick 101).

Latency: 20 symbols streaming while tws-sim moves each every 50 ms; the figure is
the time from ib_insync receiving a tick (the quote's `ts`) to a NATS subscriber
holding its `ibkr.quote.<SYMBOL>` event. Measured with QUOTE_PUBLISH_HZ=1000 (the
pipeline itself: no tick waits for a window), then at the default 4 Hz where a tick
arriving inside its symbol's window waits for the window's end (latest wins) — that
policy wait is shown separately, it is not pipeline latency.
"""

from __future__ import annotations

import asyncio
import time

from wheeldesk.clients import BridgeClient
from wheeldesk.schemas.market import QuoteEvent
from wheeldesk_testing.procs import (
    TEST_TOKEN,
    Proc,
    nats_proc,
    nats_user_env,
    service_proc,
    tws_sim_proc,
)

WATCHLIST = [
    "AAPL", "MSFT", "KO", "PEP", "JNJ", "PG", "JPM", "BAC", "XOM", "CVX",
    "INTC", "AMD", "F", "T", "VZ", "PFE", "WMT", "TGT", "HD", "DIS",
]  # fmt: skip
STREAM_SECONDS = 6.0


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def _chains(url: str) -> tuple[float, int, int, int]:
    sem = asyncio.Semaphore(4)
    async with BridgeClient(url, TEST_TOKEN, timeout=120) as bc:

        async def one(symbol: str) -> tuple[int, int]:
            async with sem:
                chain = await bc.chain(
                    symbol, right="P", dte_min=7, dte_max=60, delta_min=0.10, delta_max=0.40
                )
                return chain.quotes_requested, len(chain.options)

        start = time.perf_counter()
        results = await asyncio.gather(*(one(s) for s in WATCHLIST))
        wall = time.perf_counter() - start
    requested = sum(r for r, _ in results)
    returned = sum(n for _, n in results)
    empty = sum(1 for _, n in results if n == 0)
    return wall, requested, returned, empty


async def _latency(url: str, nats_url: str) -> tuple[list[float], int]:
    import nats

    latencies: list[float] = []
    nc = await nats.connect(nats_url)

    async def on_msg(msg) -> None:  # type: ignore[no-untyped-def]
        received = time.time()  # a duration against the event's stamp, not a date
        event = QuoteEvent.model_validate_json(msg.data)
        latencies.append((received - event.ts.timestamp()) * 1000)

    await nc.subscribe("ibkr.quote.*", cb=on_msg)
    await nc.flush()
    async with BridgeClient(url, TEST_TOKEN, timeout=60) as bc:
        await bc.subscribe(WATCHLIST)
        await asyncio.sleep(STREAM_SECONDS)
        await bc.subscribe([])
    await nc.close()
    return latencies, len(latencies)


def _bridge(sim_port: int, nats: Proc, client_id: int, **env: str):  # type: ignore[no-untyped-def]
    return service_proc(
        "gateway-bridge",
        {
            "IB_PORT": str(sim_port),
            **nats_user_env(nats, "gateway-bridge"),
            "IB_CLIENT_ID": str(client_id),
            "LOG_LEVEL": "WARNING",
            **env,
        },
    ).start(timeout=90)


def run() -> list[dict]:
    nats = nats_proc().start()
    nats_url = nats.url  # the bench listens as the test user
    # IB's limits on: 100 lines, 50 msg/s.
    sim = tws_sim_proc(extra=["--max-lines", "100", "--pacing", "50"]).start()
    # Streaming load: every symbol moves every 50 ms (20 ticks/s each, 400/s in all).
    fast = tws_sim_proc(extra=["--tick-ms", "50"]).start()
    procs = [nats, sim, fast]
    try:
        bridge = _bridge(sim.port, nats, 901)
        procs.append(bridge)
        wall, requested, returned, empty = asyncio.run(_chains(bridge.url))
        bridge.stop()
        # Pipeline latency: a 1 ms window, so no tick waits for its symbol's window.
        bridge = _bridge(fast.port, nats, 902, QUOTE_PUBLISH_HZ="1000")
        procs.append(bridge)
        pipeline, count = asyncio.run(_latency(bridge.url, nats_url))
        bridge.stop()
        # Default 4 Hz per symbol: ticks inside a window wait for it (latest wins).
        bridge = _bridge(fast.port, nats, 903)
        procs.append(bridge)
        coalesced, coalesced_count = asyncio.run(_latency(bridge.url, nats_url))
    finally:
        for proc in reversed(procs):
            proc.stop()
    ratio = requested / returned if returned else float("inf")
    return [
        {"name": "20-symbol put chain fetch (DTE 7-60, |delta| 0.10-0.40), wall", "value": wall,
         "unit": "s"},
        {"name": "option quotes requested", "value": requested, "unit": "quotes"},
        {"name": "option contracts returned", "value": returned, "unit": "contracts"},
        {"name": "symbols with no contract in the band", "value": empty, "unit": "symbols"},
        {"name": "quotes requested / contracts returned", "value": ratio, "unit": "x",
         "target": "<= 2"},
        {"name": f"quote events in {STREAM_SECONDS:.0f} s, 20 symbols at 20 ticks/s",
         "value": count, "unit": "events"},
        {"name": "quote-to-NATS latency p50", "value": _pct(pipeline, 50), "unit": "ms"},
        {"name": "quote-to-NATS latency p99", "value": _pct(pipeline, 99), "unit": "ms",
         "target": "< 20 ms"},
        {"name": "quote-to-NATS latency max", "value": max(pipeline, default=float("nan")),
         "unit": "ms"},
        {"name": "events at QUOTE_PUBLISH_HZ=4 (coalesced, same load)", "value": coalesced_count,
         "unit": "events"},
        {"name": "tick age at publish p50, 4 Hz (includes the coalescing wait)",
         "value": _pct(coalesced, 50), "unit": "ms"},
        {"name": "tick age at publish p99, 4 Hz (includes the coalescing wait)",
         "value": _pct(coalesced, 99), "unit": "ms"},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(row)
