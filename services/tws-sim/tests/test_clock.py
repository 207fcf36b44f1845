"""The simulated clock (--speed) settles expiries on its own; snapshot latency holds a line."""

from __future__ import annotations

from datetime import datetime, timedelta

from ib_insync import Stock
from twssim_helpers import connect, ctl, wait_for
from wheeldesk_testing.moments import SIM_START


async def test_fast_clock_expires_the_short_put_by_itself(tws_sim_factory) -> None:
    """Ten simulated days per second: the starting short AAPL put (the July monthly, 30 days
    after the pinned start) settles by itself at its close, with no client connected and
    however slowly this machine gets round to looking."""
    sim = tws_sim_factory(extra=["--speed", "864000"])
    expiry = SIM_START.date() + timedelta(days=30)

    def settled() -> list[dict]:
        executions = ctl(sim, "/state")["executions"]
        return [e for e in executions if e["symbol"] == "AAPL" and e["sec_type"] == "OPT"]

    await wait_for(lambda: bool(settled()), timeout=60, what="the starting put to settle")
    [put] = settled()
    assert put["expiry"] == f"{expiry:%Y%m%d}", put
    assert put["side"] == "BOT" and put["shares"] == 1 and put["price"] == 0.0, put
    assert datetime.fromisoformat(put["time"]).date() >= expiry  # at its close, not before
    ib, _ = await connect(sim)
    try:
        await wait_for(
            lambda: (
                not any(
                    p.contract.secType == "OPT"
                    and p.contract.lastTradeDateOrContractMonth == f"{expiry:%Y%m%d}"
                    for p in ib.positions()
                )
            ),
            what="the settled put to leave the positions",
        )
    finally:
        ib.disconnect()


async def test_snapshot_latency_is_configurable(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=["--snapshot-latency-ms", "400"])
    ib, _ = await connect(sim)
    try:
        [c] = await ib.qualifyContractsAsync(Stock("JNJ", "SMART", "USD"))
        loop = __import__("asyncio").get_running_loop()
        t0 = loop.time()
        [t] = await ib.reqTickersAsync(c)
        assert loop.time() - t0 >= 0.4  # the configured delay is applied
        assert t.bid > 0 and t.ask > t.bid
    finally:
        ib.disconnect()
