"""The simulated clock (--speed) settles expiries on its own; snapshot latency holds a line."""

from __future__ import annotations

from datetime import datetime

from ib_insync import Stock
from twssim_helpers import connect, ctl, wait_for


async def test_fast_clock_expires_the_short_put_by_itself(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=["--speed", "864000"])  # ten simulated days per second
    ib, _ = await connect(sim)
    try:
        t0 = datetime.fromisoformat(ctl(sim, "/state")["sim_time"])
        put = next(p for p in ib.positions() if p.contract.secType == "OPT")
        await wait_for(
            lambda: (
                not any(
                    p.contract.conId == put.contract.conId and p.position for p in ib.positions()
                )
            ),
            timeout=60,
            what="the short put to expire or be assigned",
        )
        state = ctl(sim, "/state")
        assert (datetime.fromisoformat(state["sim_time"]) - t0).days >= 20
        settled = [e for e in state["executions"] if e["con_id"] == put.contract.conId]
        assert settled and settled[0]["side"] == "BOT" and settled[0]["price"] == 0.0
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
