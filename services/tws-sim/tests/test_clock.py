"""The simulated clock (--speed) settles expiries on its own; snapshot latency holds a line."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ib_insync import Stock
from twssim_helpers import connect, ctl, wait_for
from wheeldesk.testing.moments import SIM_START


async def test_fast_clock_expires_the_short_put_by_itself(tws_sim_factory) -> None:
    """Ten simulated days per second: the starting short AAPL put (the July monthly, 30 days
    after the pinned start) settles by itself once the clock passes its 16:00 close, however
    slowly this machine gets round to looking."""
    sim = tws_sim_factory(extra=["--speed", "864000"])
    expiry = SIM_START.date() + timedelta(days=30)

    def sim_today() -> date:
        return datetime.fromisoformat(ctl(sim, "/state")["sim_time"]).date()

    await wait_for(lambda: sim_today() > expiry, timeout=60, what="the clock to pass the expiry")
    ib, _ = await connect(sim)
    try:
        settled = [
            e
            for e in ctl(sim, "/state")["executions"]
            if e["symbol"] == "AAPL"
            and e["sec_type"] == "OPT"
            and e["expiry"] == f"{expiry:%Y%m%d}"
        ]
        assert len(settled) == 1 and settled[0]["side"] == "BOT" and settled[0]["shares"] == 1
        assert settled[0]["price"] == 0.0  # expiry or assignment closes the short at zero
        assert not any(
            p.contract.secType == "OPT"
            and p.contract.lastTradeDateOrContractMonth == f"{expiry:%Y%m%d}"
            for p in ib.positions()
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
