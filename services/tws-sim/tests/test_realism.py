"""What a real account meets beyond the happy path, through the real ib_insync client:
missing entitlements answered with IB's codes, IB's pacing (a sustained violation disconnects,
market-data lines counted per account), partial fills of a large order, the short average
cost, and the latency model. All at the harness's pinned moment (SIM_START, regular hours).
"""

from __future__ import annotations

import asyncio

import pytest
from ib_insync import LimitOrder, Option, RequestError, Stock
from twssim_helpers import connect, ctl, wait_for


async def _put(ib, symbol: str, expiry: str = "20260717") -> Option:
    details = await ib.reqContractDetailsAsync(Option(symbol, expiry, 0.0, "P", "SMART"))
    [t] = await ib.reqTickersAsync(Stock(symbol, "SMART", "USD"))
    spot = t.marketPrice()
    return min((d.contract for d in details), key=lambda c: abs(c.strike - 0.95 * spot))


async def test_entitlement_switches_on_the_command_line(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=["--no-fundamentals", "--no-greeks", "--no-live-data", "--no-wsh"])
    assert ctl(sim, "/state")["entitlements"] == {
        "live": False,
        "fundamentals": False,
        "greeks": False,
        "wsh": False,
    }
    ib, errors = await connect(sim)
    try:
        [stock] = await ib.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        # No live data: 354 on a live request; delayed (type 3) when asked for.
        ib.reqMktData(stock, "", False, False)
        await wait_for(lambda: 354 in errors.codes(), what="354")
        ib.cancelMktData(stock)
        ib.reqMarketDataType(3)
        # No fundamentals: generic tick 258 is refused with 10358, the rest still streams.
        t = ib.reqMktData(stock, "258,106", False, False)
        await wait_for(lambda: 10358 in errors.codes(), what="10358")
        msg = next(m for _, c, m in errors.items if c == 10358)
        assert msg == "Fundamentals data is not allowed."
        await wait_for(lambda: t.marketDataType == 3 and t.bid > 0, what="delayed quotes")
        assert 10167 in errors.codes()  # "Displaying delayed market data", as IB warns
        # One round trip on the same ordered stream: the line's first full quote (where tick
        # 258 would be) is all in.
        await ib.reqCurrentTimeAsync()
        assert t.fundamentalRatios is None and t.impliedVolatility > 0
        # No option model greeks: quotes without computations, and no error (an error code
        # such as 10090 would make a client drop to delayed data for a greeks-only gap).
        put = await _put(ib, "KO")
        pt = ib.reqMktData(put, "101", False, False)
        await wait_for(lambda: pt.bid > 0 and pt.ask > pt.bid, what="option quotes")
        await ib.reqCurrentTimeAsync()  # the full first quote is in: computations would be too
        assert pt.modelGreeks is None and pt.bidGreeks is None and pt.marketDataType == 3
        assert pt.last > 0 and pt.volume > 0
        assert pt.putOpenInterest > 0  # exchange data, not a greek: still sent
        assert 10090 not in errors.codes()
        # No Wall Street Horizon: 10276.
        with pytest.raises(RequestError) as err:
            ib.RaiseRequestErrors = True
            await ib.getWshMetaDataAsync()
        assert err.value.code == 10276
    finally:
        ib.disconnect()


async def test_entitlements_switch_on_the_control_api(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    ib, errors = await connect(sim)
    try:
        [stock] = await ib.qualifyContractsAsync(Stock("PEP", "SMART", "USD"))
        t = ib.reqMktData(stock, "258", False, False)
        await wait_for(lambda: t.fundamentalRatios is not None, what="ratios while entitled")
        ib.cancelMktData(stock)
        got = ctl(sim, "/control/entitlements", {"fundamentals": False, "greeks": False})
        assert got == {"live": True, "fundamentals": False, "greeks": False, "wsh": True}
        t = ib.reqMktData(stock, "258", False, False)
        await wait_for(lambda: 10358 in errors.codes(), what="10358 after the switch")
        put = await _put(ib, "PEP")
        pt = ib.reqMktData(put, "", False, False)
        await wait_for(lambda: pt.bid > 0, what="option quotes without greeks")
        await ib.reqCurrentTimeAsync()  # the full first quote is in: computations would be too
        assert pt.modelGreeks is None and pt.askGreeks is None
        ctl(sim, "/control/entitlements", {"live": False})
        ib.cancelMktData(stock)
        ib.reqMktData(stock, "", False, False)
        await wait_for(lambda: 354 in errors.codes(), what="354 after the switch")
    finally:
        ib.disconnect()
    r = __import__("httpx").post(sim.control_url + "/control/entitlements", json={"greek": True})
    assert r.status_code == 400 and r.json()["field"] == "greek"


async def test_sustained_pacing_violation_disconnects(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    ib, errors = await connect(sim)
    disconnected = asyncio.Event()
    ib.disconnectedEvent += disconnected.set
    try:
        ib.client.MaxRequests = 0  # switch off ib_insync's own throttle
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while not disconnected.is_set() and loop.time() - t0 < 8:
            for _ in range(40):  # ~400 messages a second
                if ib.isConnected():
                    ib.client.reqCurrentTime()
            await asyncio.sleep(0.1)
        assert disconnected.is_set(), "tws-sim kept a connection that violated pacing for 8 s"
        assert 2.0 <= loop.time() - t0 <= 7.5  # after ~3 s of violations, not at once
        assert errors.codes().count(100) > 50
    finally:
        ib.disconnect()
    ib, _ = await connect(sim)  # the account can connect again at once
    try:
        assert await ib.reqCurrentTimeAsync() is not None
    finally:
        ib.disconnect()


async def test_market_data_lines_are_counted_per_account(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=["--max-lines", "6"])
    ib1, err1 = await connect(sim)
    ib2, err2 = await connect(sim)
    try:
        syms = ["AAPL", "MSFT", "KO", "PEP", "JNJ", "SPY", "PG"]
        contracts = await ib1.qualifyContractsAsync(*[Stock(s, "SMART", "USD") for s in syms])
        for c in contracts[:4]:
            ib1.reqMktData(c, "", False, False)
        for c in contracts[4:6]:
            ib2.reqMktData(c, "", False, False)
        await wait_for(lambda: sum(1 for t in ib2.tickers() if t.bid > 0) == 2, what="2 lines")
        assert 101 not in err1.codes() + err2.codes()
        ib2.reqMktData(contracts[6], "", False, False)  # the account's 7th line
        await wait_for(lambda: 101 in err2.codes(), what="101 on the second client")
        ib1.cancelMktData(contracts[0])
        await ib1.reqCurrentTimeAsync()  # answered after the cancel: the line is free
        t = ib2.reqMktData(contracts[0], "", False, False)
        await wait_for(lambda: t.bid > 0, what="a freed line is usable by the other client")
    finally:
        ib1.disconnect()
        ib2.disconnect()


async def test_large_order_fills_in_pieces_small_one_whole(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    ib, _ = await connect(sim)
    try:
        put = await _put(ib, "AAPL")
        [q] = await ib.reqTickersAsync(put)
        assert q.askSize < 60  # the book shows less than the order
        limit = round(round((q.ask + 1.0) * 20) / 20, 2)  # marketable, on the 0.05 grid
        big = ib.placeOrder(put, LimitOrder("BUY", 60, limit))
        statuses: list[tuple[str, float]] = []
        big.statusEvent += lambda tr: statuses.append(
            (tr.orderStatus.status, tr.orderStatus.filled)
        )
        await wait_for(lambda: big.orderStatus.status == "Filled", what="the 60-lot filled")
        pieces = [f.execution.shares for f in big.fills]
        assert len(pieces) >= 2 and sum(pieces) == 60
        assert all(p >= 10 for p in pieces[:-1])
        assert any(s == "Submitted" and 0 < f < 60 for s, f in statuses)  # partially filled
        assert [f.execution.cumQty for f in big.fills][-1] == 60
        small = ib.placeOrder(put, LimitOrder("BUY", 5, limit))
        await wait_for(lambda: small.orderStatus.status == "Filled", what="small filled")
        assert [f.execution.shares for f in small.fills] == [5]
    finally:
        ib.disconnect()


async def test_short_average_cost_deducts_the_commission(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    ib, _ = await connect(sim)
    try:
        put = await _put(ib, "MSFT", "20260821")
        [q] = await ib.reqTickersAsync(put)
        trade = ib.placeOrder(put, LimitOrder("SELL", 1, q.bid))
        await wait_for(lambda: trade.orderStatus.status == "Filled", what="the sale")
        await wait_for(lambda: trade.fills and trade.fills[0].commissionReport.commission > 0)
        price = trade.fills[0].execution.price
        commission = trade.fills[0].commissionReport.commission
        await wait_for(lambda: any(p.contract.conId == put.conId for p in ib.positions()))
        pos = next(p for p in ib.positions() if p.contract.conId == put.conId)
        assert pos.position == -1
        # 2.46 sold with $1.00 commission is an average cost of 245, not 247.
        assert pos.avgCost == pytest.approx(price * 100 - commission, abs=1e-6)
    finally:
        ib.disconnect()


async def test_realistic_latency_model(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=["--latency", "realistic"])
    assert ctl(sim, "/state")["latency"] == "realistic"
    ib, _ = await connect(sim)
    loop = asyncio.get_running_loop()
    try:
        t0 = loop.time()
        [stock] = await ib.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        details_s = loop.time() - t0
        assert 0.08 <= details_s < 3.0  # contract details: hundreds of milliseconds
        put = await _put(ib, "KO")
        t0 = loop.time()
        [q] = await ib.reqTickersAsync(put)
        snap_s = loop.time() - t0
        assert 0.6 <= snap_s <= 5.0 and q.bid > 0  # an option snapshot takes a second or two
        # History: a burst is answered, then soft-throttled (a few a second), never refused.
        t0 = loop.time()
        results = await asyncio.gather(
            *[
                ib.reqHistoricalDataAsync(stock, "", "30 D", "1 day", "TRADES", True)
                for _ in range(30)
            ]
        )
        hist_s = loop.time() - t0
        assert all(len(r) > 15 for r in results)
        assert hist_s >= 2.0  # 10 past the burst of 20 at 4/s
    finally:
        ib.disconnect()
    assert ctl(sim, "/control/latency-model", {"mode": "off"})["mode"] == "off"
    ib, _ = await connect(sim)
    try:
        t0 = loop.time()
        await ib.reqTickersAsync(Stock("KO", "SMART", "USD"))
        assert loop.time() - t0 < 0.5
    finally:
        ib.disconnect()
