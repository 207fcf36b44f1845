"""tws-sim: ticks per second delivered to one ib_insync client, and connect time.

Ticks: tws-sim started with `--tick-ms 1` (the market steps and streams as fast as the
event loop allows), one ib_insync client streams all 50 universe stocks; the figure is
ticks decoded by ib_insync (Ticker.ticks, i.e. bid/ask/last price+size changes) per
second over a fixed window. Both processes share this machine's cores.
Options: then 100 AAPL option lines (IB's line limit) streaming bid/ask and greeks.
Connect: wall time of `IB.connectAsync` (handshake + the full initial sync IB.connect
does: positions, open/completed orders, account updates, executions), median of 10.
Latency model: a second tws-sim with `--latency realistic` (IB-like per-request delays):
one option snapshot, the contract details of one option expiry, and 30 daily-history requests
at once (IB's soft throttle), each as the client sees it.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from ib_insync import IB, Option, Stock
from wheeldesk_testing.procs import tws_sim_proc

WINDOW = 8.0


async def _measure(port: int) -> tuple[float, float, float]:
    times = []
    for i in range(10):
        ib = IB()
        t0 = time.perf_counter()
        await ib.connectAsync("127.0.0.1", port, clientId=100 + i, timeout=20)
        times.append(time.perf_counter() - t0)
        ib.disconnect()
        await asyncio.sleep(0.05)

    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=20)
    contracts = [Stock(s, "SMART", "USD") for s in UNIVERSE]
    await ib.qualifyContractsAsync(*contracts)
    count = 0

    def on_pending(tickers) -> None:
        nonlocal count
        for t in tickers:
            count += len(t.ticks)

    for c in contracts:
        ib.reqMktData(c, "", False, False)
    await asyncio.sleep(1.0)  # warm-up
    ib.pendingTickersEvent += on_pending
    t0 = time.perf_counter()
    await asyncio.sleep(WINDOW)
    elapsed = time.perf_counter() - t0
    ib.pendingTickersEvent -= on_pending
    count_stock = count
    for c in contracts:
        ib.cancelMktData(c)

    # 100 option lines (the IB limit): quotes plus model greeks on every step.
    details = await ib.reqContractDetailsAsync(
        Option("AAPL", "", 0.0, "", "SMART", tradingClass="AAPL")
    )
    options = [d.contract for d in details[:100]]
    for c in options:
        ib.reqMktData(c, "", False, False)
    await asyncio.sleep(1.0)
    count = 0
    greeks = 0

    def on_option(tickers) -> None:
        nonlocal count, greeks
        for t in tickers:
            count += len(t.ticks)
            greeks += t.modelGreeks is not None

    ib.pendingTickersEvent += on_option
    t0 = time.perf_counter()
    await asyncio.sleep(WINDOW / 2)
    opt_elapsed = time.perf_counter() - t0
    ib.pendingTickersEvent -= on_option
    ib.disconnect()
    return (
        count_stock / elapsed,
        statistics.median(times),
        max(times),
        count / opt_elapsed,
        greeks / opt_elapsed,
    )


async def _latency(port: int) -> tuple[float, float, float, float]:
    """(median option snapshot s, option-expiry contract details s, 30 histories s, 1 stock
    snapshot s) against `--latency realistic`."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=30)
    try:
        [stock] = await ib.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        t0 = time.perf_counter()
        await ib.reqTickersAsync(stock)
        stock_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        details = await ib.reqContractDetailsAsync(Option("KO", "20260717", 0.0, "P", "SMART"))
        details_s = time.perf_counter() - t0
        snaps = []
        for d in details[:10]:
            t0 = time.perf_counter()
            await ib.reqTickersAsync(d.contract)
            snaps.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await asyncio.gather(
            *[
                ib.reqHistoricalDataAsync(stock, "", "1 Y", "1 day", "TRADES", True)
                for _ in range(30)
            ]
        )
        hist_s = time.perf_counter() - t0
    finally:
        ib.disconnect()
    return statistics.median(snaps), details_s, hist_s, stock_s


UNIVERSE = [
    "AAPL", "MSFT", "KO", "PEP", "JNJ", "PG", "JPM", "BAC", "XOM", "CVX", "INTC", "AMD", "F",
    "T", "VZ", "PFE", "WMT", "TGT", "HD", "DIS", "SOFI", "PLTR", "RIVN", "NVDA", "GOOGL",
    "AMZN", "META", "TSLA", "CSCO", "ORCL", "IBM", "ABBV", "MRK", "CVS", "WFC", "C", "GM",
    "UBER", "PYPL", "SBUX", "NKE", "MO", "KHC", "O", "MU", "SCHW", "DAL", "AAL", "MARA", "SPY",
]  # fmt: skip


def run() -> list[dict]:
    sim = tws_sim_proc(extra=["--tick-ms", "1", "--pacing", "0"]).start()
    try:
        rate, connect_p50, connect_max, opt_rate, greek_rate = asyncio.run(_measure(sim.port))
    finally:
        sim.stop()
    sim = tws_sim_proc(extra=["--latency", "realistic"]).start()
    try:
        snap_s, details_s, hist_s, stock_s = asyncio.run(_latency(sim.port))
    finally:
        sim.stop()
    return [
        {"name": "--latency realistic: option snapshot (reqTickers), median of 10",
         "value": snap_s * 1000, "unit": "ms", "target": "IB: 1-2 s"},
        {"name": "--latency realistic: stock snapshot", "value": stock_s * 1000, "unit": "ms",
         "target": None},
        {"name": "--latency realistic: contract details of one option expiry",
         "value": details_s * 1000, "unit": "ms", "target": "IB: hundreds of ms"},
        {"name": "--latency realistic: 30 daily-history requests at once",
         "value": hist_s, "unit": "s", "target": "throttled: burst 20, then 4/s"},
        {"name": "ticks/s delivered to one ib_insync client (50 stocks streaming)",
         "value": round(rate), "unit": "ticks/s", "target": ">= 5,000"},
        {"name": "option ticks/s to one client (100 AAPL option lines)",
         "value": round(opt_rate), "unit": "ticks/s", "target": None},
        {"name": "option ticker updates with model greeks/s (100 lines)",
         "value": round(greek_rate), "unit": "updates/s", "target": None},
        {"name": "IB.connectAsync incl. initial sync, median of 10", "value": connect_p50 * 1000,
         "unit": "ms", "target": "well under 1 s"},
        {"name": "IB.connectAsync incl. initial sync, max of 10", "value": connect_max * 1000,
         "unit": "ms", "target": "< 1 s"},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(row)
