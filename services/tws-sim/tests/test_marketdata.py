"""Market data through ib_insync: snapshots, greeks vs Black–Scholes, streaming, limits."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from ib_insync import Option, Stock
from scipy.stats import norm
from twssim_helpers import connect, ctl, wait_for

ET = ZoneInfo("America/New_York")


def bs_reference(right: str, s: float, k: float, t: float, r: float, q: float, v: float) -> dict:
    """Textbook Black–Scholes–Merton (scipy), independent of the simulator's code."""
    d1 = (math.log(s / k) + (r - q + v * v / 2) * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)
    if right == "C":
        price = s * math.exp(-q * t) * norm.cdf(d1) - k * math.exp(-r * t) * norm.cdf(d2)
        delta = math.exp(-q * t) * norm.cdf(d1)
        theta = (
            -s * math.exp(-q * t) * norm.pdf(d1) * v / (2 * math.sqrt(t))
            - r * k * math.exp(-r * t) * norm.cdf(d2)
            + q * s * math.exp(-q * t) * norm.cdf(d1)
        )
    else:
        price = k * math.exp(-r * t) * norm.cdf(-d2) - s * math.exp(-q * t) * norm.cdf(-d1)
        delta = -math.exp(-q * t) * norm.cdf(-d1)
        theta = (
            -s * math.exp(-q * t) * norm.pdf(d1) * v / (2 * math.sqrt(t))
            + r * k * math.exp(-r * t) * norm.cdf(-d2)
            - q * s * math.exp(-q * t) * norm.cdf(-d1)
        )
    gamma = math.exp(-q * t) * norm.pdf(d1) / (s * v * math.sqrt(t))
    vega = s * math.exp(-q * t) * norm.pdf(d1) * math.sqrt(t) / 100
    return {"price": price, "delta": delta, "gamma": gamma, "vega": vega, "theta": theta / 365}


def years_to(expiry: str, now: datetime) -> float:
    d = datetime.strptime(expiry, "%Y%m%d").replace(hour=16, tzinfo=ET)
    return (d - now).total_seconds() / (365 * 86400)


async def test_reqtickers_100_options_greeks_match_bs_and_parity(tws_sim_factory) -> None:
    # A slow tick clock keeps the underlying still while the 100 snapshots are taken.
    sim = tws_sim_factory(extra=["--tick-ms", "600000"])
    ib, errors = await connect(sim)
    try:
        market = ctl(sim, "/market")
        r = market["rate"]
        q = market["symbols"]["AAPL"]["dividend_yield"]
        [stock] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        params = next(
            p
            for p in await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId)
            if p.exchange == "SMART"
        )
        spot = market["symbols"]["AAPL"]["price"]
        exps = sorted(params.expirations)
        chosen: list[Option] = []
        for exp in (exps[2], exps[6], exps[10]):
            details = await ib.reqContractDetailsAsync(Option("AAPL", exp, 0.0, "C", "SMART"))
            strikes = sorted(d.contract.strike for d in details)
            near = sorted(strikes, key=lambda k: abs(k - spot))[:17]
            for k in sorted(near):
                chosen += [
                    Option("AAPL", exp, k, "C", "SMART"),
                    Option("AAPL", exp, k, "P", "SMART"),
                ]
        chosen = chosen[:100]
        assert len(chosen) == 100
        qualified = await ib.qualifyContractsAsync(*chosen)
        assert len(qualified) == 100

        tickers = await ib.reqTickersAsync(*qualified)
        assert len(tickers) == 100
        now = datetime.fromisoformat(ctl(sim, "/state")["sim_time"])
        by_key = {}
        for t in tickers:
            c = t.contract
            g = t.modelGreeks
            assert g is not None, c
            assert 0 <= t.bid < t.ask, c
            assert t.bid <= g.optPrice <= t.ask, c
            assert g.undPrice == pytest.approx(spot, abs=0.01)
            tte = years_to(c.lastTradeDateOrContractMonth, now)
            ref = bs_reference(c.right, g.undPrice, c.strike, tte, r, q, g.impliedVol)
            assert g.optPrice == pytest.approx(ref["price"], abs=0.01), c
            assert g.delta == pytest.approx(ref["delta"], abs=0.002), c
            assert g.gamma == pytest.approx(ref["gamma"], rel=0.02, abs=1e-4), c
            assert g.vega == pytest.approx(ref["vega"], rel=0.02, abs=1e-3), c
            assert g.theta == pytest.approx(ref["theta"], rel=0.02, abs=1e-3), c
            assert (c.right == "C") == (g.delta > 0)
            by_key[(c.lastTradeDateOrContractMonth, c.strike, c.right)] = t
        pairs = 0
        for (exp, k, right), call in by_key.items():
            if right != "C" or (exp, k, "P") not in by_key:
                continue
            put = by_key[(exp, k, "P")]
            tte = years_to(exp, now)
            forward_gap = spot * math.exp(-q * tte) - k * math.exp(-r * tte)
            residual = (call.bid + call.ask) / 2 - (put.bid + put.ask) / 2 - forward_gap
            allowed = ((call.ask - call.bid) + (put.ask - put.bid)) / 2
            assert abs(residual) <= allowed + 1e-9, (exp, k, residual, allowed)
            pairs += 1
        assert pairs == 50
        # skew: the lower strike put carries the higher IV
        puts = sorted(
            (k, t.modelGreeks.impliedVol)
            for (e, k, rt), t in by_key.items()
            if rt == "P" and e == exps[6]
        )
        assert puts[0][1] > puts[-1][1]
        assert 101 not in errors.codes()
    finally:
        ib.disconnect()


async def test_streaming_stock_and_option_ticks_and_cancel(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=["--tick-ms", "50"])
    ib, _ = await connect(sim)
    try:
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        ticker = ib.reqMktData(aapl, "", False, False)
        updates = []
        ticker.updateEvent += lambda t: updates.append((t.bid, t.ask, t.last))
        await wait_for(lambda: len(updates) >= 10, what="10 streaming updates")
        assert ticker.marketDataType == 1
        assert 0 < ticker.bid < ticker.ask and ticker.bidSize > 0 and ticker.volume > 0
        assert len({u for u in updates}) > 2  # prices move

        ctl(sim, "/control/price", {"symbol": "AAPL", "price": 150.0})
        await wait_for(lambda: abs(ticker.last - 150.0) < 2, what="price jump to 150")

        puts = await ib.reqContractDetailsAsync(
            Option("AAPL", "", 0.0, "P", "SMART", tradingClass="AAPL")
        )
        opt = puts[len(puts) // 3].contract
        ot = ib.reqMktData(opt, "100,101,106", False, False)
        await wait_for(
            lambda: ot.modelGreeks is not None and ot.putOpenInterest > 0,
            what="option greeks and OI",
        )
        assert ot.bidGreeks is not None and ot.askGreeks is not None
        assert ot.putVolume >= 0 and ot.impliedVolatility > 0

        ib.cancelMktData(aapl)
        # One round trip on the same ordered stream: once answered, the cancel was processed.
        await ib.reqCurrentTimeAsync()
        n = len(updates)
        await asyncio.sleep(0.5)
        assert len(updates) == n
    finally:
        ib.disconnect()


async def test_generic_ticks_fundamentals(tws_sim) -> None:
    ib, _ = await connect(tws_sim)
    try:
        [ko, rivn] = await ib.qualifyContractsAsync(
            Stock("KO", "SMART", "USD"), Stock("RIVN", "SMART", "USD")
        )
        t = ib.reqMktData(ko, "100,101,104,106,258,456", False, False)
        r = ib.reqMktData(rivn, "258", False, False)
        await wait_for(
            lambda: (
                t.fundamentalRatios is not None
                and r.fundamentalRatios is not None
                and t.impliedVolatility > 0
                and t.histVolatility > 0
                and t.callOpenInterest > 0
                and t.dividends is not None
            ),
            what="generic ticks",
        )
        f = t.fundamentalRatios
        assert f.BETA == 0.6 and f.TTMROEPCT > 0 and f.TTMFCFSHR > 0 and f.MKTCAP > 0
        assert pytest.approx(3.1) == f.YIELD
        assert t.putOpenInterest > 0 and t.callVolume > 0 and t.putVolume > 0
        assert t.dividends.past12Months > 0
        fr = r.fundamentalRatios
        assert fr.BETA > 2 and fr.TTMROEPCT < 0 and fr.TTMFCFSHR < 0 and fr.TTMFCF < 0
    finally:
        ib.disconnect()


async def test_market_data_types_and_missing_subscription(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    ib, errors = await connect(sim)
    try:
        [c] = await ib.qualifyContractsAsync(Stock("PEP", "SMART", "USD"))
        for dtype in (1, 2, 3, 4):
            # In regular hours with live data entitled IB answers every type with live data.
            ib.reqMarketDataType(dtype)
            [t] = await ib.reqTickersAsync(c)
            assert t.marketDataType == 1
            assert t.bid > 0 and t.ask > t.bid
        ctl(sim, "/control/subscription", {"live": False})
        ib.reqMarketDataType(1)
        t = ib.reqMktData(c, "", False, False)
        await wait_for(lambda: 354 in errors.codes(), what="error 354")
        ib.cancelMktData(c)
        ib.reqMarketDataType(3)
        t = ib.reqMktData(c, "", False, False)
        await wait_for(lambda: t.marketDataType == 3 and t.bid > 0, what="delayed data")
    finally:
        ib.disconnect()


async def test_101st_line_and_pacing_errors(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    ib, errors = await connect(sim)
    try:
        [_stock] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        details = await ib.reqContractDetailsAsync(
            Option("AAPL", "", 0.0, "C", "SMART", tradingClass="AAPL")
        )
        contracts = [d.contract for d in details[:101]]
        for c in contracts[:100]:
            ib.reqMktData(c, "", False, False)
        await wait_for(
            lambda: sum(1 for t in ib.tickers() if t.modelGreeks is not None) >= 100,
            what="100 lines streaming",
            timeout=30,
        )
        assert 101 not in errors.codes()
        ib.reqMktData(contracts[100], "", False, False)
        await wait_for(lambda: 101 in errors.codes(), what="error 101")
        msg = next(m for _, c, m in errors.items if c == 101)
        assert "Max number of tickers" in msg
        for c in contracts[:100]:
            ib.cancelMktData(c)

        ib.client.MaxRequests = 0  # switch off ib_insync's own throttle to exceed IB's 50/s
        for _ in range(120):
            ib.client.reqCurrentTime()
        await wait_for(lambda: 100 in errors.codes(), what="pacing error 100")
        assert any("Max rate of messages per second" in m for _, c, m in errors.items if c == 100)
        await asyncio.sleep(1.1)
        assert (await ib.reqCurrentTimeAsync()) is not None
    finally:
        ib.disconnect()
