"""The request counter on the control API: what a client's work cost IB, per message type."""

from __future__ import annotations

from ib_insync import Stock
from twssim_helpers import connect, ctl, wait_for


async def test_requests_are_counted_per_type_and_reset(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=["--pacing", "20"])
    ib, errors = await connect(sim)
    try:
        # ib_insync's connect: startApi, then its sync requests (positions, orders, account …).
        at_connect = ctl(sim, "/control/reset-counters", {})
        assert at_connect["requests"]["startApi"] == 1
        assert at_connect["requests"]["reqPositions"] == 1
        assert at_connect["requests"]["reqCompletedOrders"] == 1
        assert at_connect["total"] == sum(at_connect["requests"].values())
        zero = ctl(sim, "/state/requests")
        assert zero["total"] == 0 and zero["requests"] == {} and zero["pacing_rejected"] == 0

        [stock] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId)
        [snap] = await ib.reqTickersAsync(stock)
        assert snap.bid > 0
        line = ib.reqMktData(stock, "258,456", False, False)
        await wait_for(lambda: line.fundamentalRatios is not None, what="fundamentals")
        # The other direction: the line's stream steps that carried ticks are counted too.
        await wait_for(
            lambda: ctl(sim, "/state/requests")["streamed"]["updates"] >= 2, what="two updates"
        )
        ib.cancelMktData(stock)
        bars = await ib.reqHistoricalDataAsync(stock, "", "30 D", "1 day", "TRADES", True)
        assert bars

        await wait_for(
            lambda: ctl(sim, "/state/requests")["requests"].get("reqHistoricalData") == 1,
            what="the history request counted",
        )
        counts = ctl(sim, "/state/requests")
        assert counts["requests"] == {
            "cancelMktData": 1,
            "reqContractDetails": 1,
            "reqHistoricalData": 1,
            "reqMktData": 2,
            "reqSecDefOptParams": 1,
        }
        assert counts["total"] == 6
        streamed = counts["streamed"]
        assert streamed["ticks"] >= streamed["updates"] >= 2
        assert streamed["skipped_congested"] == 0
        assert counts["market_data"] == {
            "snapshots": 1,
            "streams": 1,
            "generic_ticks": {"258": 1, "456": 1},
        }

        # Requests over the pacing limit (20/s here) are counted and refused with error 100.
        ib.client.MaxRequests = 0  # switch off ib_insync's throttle
        for _ in range(40):
            ib.client.reqCurrentTime()
        await wait_for(
            lambda: ctl(sim, "/state/requests")["requests"].get("reqCurrentTime") == 40,
            what="40 reqCurrentTime counted",
        )
        await wait_for(lambda: 100 in errors.codes(), what="pacing error 100")
        paced = ctl(sim, "/state/requests")
        assert paced["pacing_rejected"] > 0
        assert paced["total"] == 46
    finally:
        ib.disconnect()
