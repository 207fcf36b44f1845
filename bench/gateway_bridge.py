"""gateway-bridge: a 20-symbol watchlist chain fetch and quote-to-NATS latency against tws-sim.

tws-sim runs with IB's limits on (100 market data lines, 50 messages/s pacing), the
bridge with its defaults. Figures: wall time of fetching 20 put chains (DTE 7–60,
|delta| 0.10–0.40) the way the screener does (4 concurrent requests), option quotes
requested versus contracts returned (strike pre-selection; target at most 2×), and
the latency from the bridge receiving a tick to a NATS subscriber holding the
`ibkr.quote.<SYMBOL>` event while 20 symbols stream.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime

from wheeldesk.clients import BridgeClient
from wheeldesk.schemas.market import QuoteEvent
from wheeldesk.testing.procs import TEST_TOKEN, nats_proc, service_proc, tws_sim_proc

WATCHLIST = [
    "AAPL", "MSFT", "KO", "PEP", "JNJ", "PG", "JPM", "BAC", "XOM", "CVX",
    "INTC", "AMD", "F", "T", "VZ", "PFE", "WMT", "TGT", "HD", "DIS",
]  # fmt: skip
STREAM_SECONDS = 10.0


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
        received = datetime.now(UTC)
        event = QuoteEvent.model_validate_json(msg.data)
        latencies.append((received - event.ts).total_seconds() * 1000)

    await nc.subscribe("ibkr.quote.*", cb=on_msg)
    await nc.flush()
    async with BridgeClient(url, TEST_TOKEN, timeout=60) as bc:
        await bc.subscribe(WATCHLIST)
        await asyncio.sleep(STREAM_SECONDS)
        await bc.subscribe([])
    await nc.close()
    return latencies, len(latencies)


def run() -> list[dict]:
    nats = nats_proc().start()
    sim = tws_sim_proc(extra=["--max-lines", "100", "--pacing", "50"]).start()
    bridge = service_proc(
        "gateway-bridge",
        {
            "IB_PORT": str(sim.port),
            "NATS_URL": f"nats://127.0.0.1:{nats.port}",
            "IB_CLIENT_ID": "901",
            "LOG_LEVEL": "WARNING",
        },
    ).start(timeout=90)
    try:
        wall, requested, returned, empty = asyncio.run(_chains(bridge.url))
        # Second pass: the secdef/conid caches are warm, quotes are not (cache is ~1 s).
        time.sleep(1.5)
        wall_warm, *_ = asyncio.run(_chains(bridge.url))
        latencies, count = asyncio.run(_latency(bridge.url, f"nats://127.0.0.1:{nats.port}"))
    finally:
        bridge.stop()
        sim.stop()
        nats.stop()
    ratio = requested / returned if returned else float("inf")
    p50, p99 = _pct(latencies, 50), _pct(latencies, 99)
    return [
        {"name": "20-symbol put chain fetch, cold caches (wall)", "value": wall, "unit": "s"},
        {"name": "20-symbol put chain fetch, warm secdef cache (wall)", "value": wall_warm,
         "unit": "s"},
        {"name": "option quotes requested", "value": requested, "unit": "quotes"},
        {"name": "option contracts returned (|delta| 0.10-0.40)", "value": returned,
         "unit": "contracts"},
        {"name": "symbols with no contract in the band", "value": empty, "unit": "symbols"},
        {"name": "quotes requested / contracts returned", "value": ratio, "unit": "x",
         "target": "<= 2"},
        {"name": f"quote events received in {STREAM_SECONDS:.0f} s, 20 symbols", "value": count,
         "unit": "events"},
        {"name": "quote-to-NATS latency p50", "value": p50, "unit": "ms"},
        {"name": "quote-to-NATS latency p99", "value": p99, "unit": "ms", "target": "< 20 ms"},
        {"name": "quote-to-NATS latency mean", "value": statistics.fmean(latencies)
         if latencies else float("nan"), "unit": "ms"},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(row)
