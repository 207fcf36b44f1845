"""Contract details, option chain parameters and historical bars."""

from __future__ import annotations

from datetime import date, datetime

from ib_insync import Contract, Option, Stock
from twssim_helpers import connect
from wheeldesk_testing.moments import SIM_START

SIM_TODAY = SIM_START.date()  # tws-sim's pinned "today" (New York)


async def test_qualify_stock_and_option_and_unknown(tws_sim) -> None:
    ib, errors = await connect(tws_sim)
    try:
        aapl = Stock("AAPL", "SMART", "USD")
        [q] = await ib.qualifyContractsAsync(aapl)
        assert q.conId > 0 and q.primaryExchange == "NASDAQ" and q.exchange == "SMART"

        [cd] = await ib.reqContractDetailsAsync(Stock("KO", "SMART", "USD"))
        assert cd.longName == "Coca-Cola Co" and cd.contract.primaryExchange == "NYSE"
        assert cd.minTick == 0.01 and cd.timeZoneId == "US/Eastern"

        [params] = [
            p
            for p in await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", q.conId)
            if p.exchange == "SMART"
        ]
        exp = sorted(params.expirations)[3]
        strikes = sorted(params.strikes)
        opt = Option("AAPL", exp, 0.0, "P", "SMART", currency="USD", tradingClass="AAPL")
        details = await ib.reqContractDetailsAsync(opt)
        assert len(details) > 10
        strike = details[len(details) // 2].contract.strike
        assert strike in strikes
        o = Option("AAPL", exp, strike, "P", "SMART")
        [qo] = await ib.qualifyContractsAsync(o)
        assert qo.conId > 0 and qo.multiplier == "100" and qo.tradingClass == "AAPL"
        assert qo.lastTradeDateOrContractMonth == exp
        assert qo.localSymbol.startswith("AAPL  ") and "P" in qo.localSymbol
        [by_id] = await ib.reqContractDetailsAsync(Contract(conId=qo.conId))
        assert by_id.contract.strike == strike and by_id.underConId == q.conId

        assert await ib.qualifyContractsAsync(Stock("ZZZZ", "SMART", "USD")) == []
        assert 200 in errors.codes()
        bad = Option("AAPL", exp, strike + 0.37, "P", "SMART")
        assert await ib.qualifyContractsAsync(bad) == []
    finally:
        ib.disconnect()


async def test_secdef_params_weekly_and_monthly_to_a_year(tws_sim) -> None:
    ib, errors = await connect(tws_sim)
    try:
        [stock] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
        params = await ib.reqSecDefOptParamsAsync("MSFT", "", "STK", stock.conId)
        smart = next(p for p in params if p.exchange == "SMART")
        assert smart.multiplier == "100" and smart.tradingClass == "MSFT"
        exps = sorted(datetime.strptime(e, "%Y%m%d").date() for e in smart.expirations)
        today = SIM_TODAY
        # Fridays, except where the Friday is an NYSE holiday: listed the Thursday before
        # (Juneteenth 06-19 -> 06-18, Independence Day observed 07-03 -> 07-02, the June 2027
        # monthly on Juneteenth observed 2027-06-18 -> 06-17).
        assert [e.isoformat() for e in exps if e.weekday() != 4] == [
            "2026-06-18",
            "2026-07-02",
            "2027-06-17",
        ]
        assert all(e.weekday() in (3, 4) for e in exps)
        assert (exps[3] - exps[2]).days == 8  # weeklies (07-02, then Fri 07-10)
        assert 300 <= (exps[-1] - today).days <= 370  # monthlies out to a year
        assert len(exps) >= 15
        strikes = sorted(smart.strikes)
        assert strikes[0] < 415 < strikes[-1]
        assert len(strikes) > 30
        assert await ib.reqSecDefOptParamsAsync("ZZZZ", "", "STK", 0) == []
        assert 200 in errors.codes()
    finally:
        ib.disconnect()


async def test_daily_history_trades_and_implied_vol(tws_sim) -> None:
    ib, _ = await connect(tws_sim)
    try:
        [c] = await ib.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        bars = await ib.reqHistoricalDataAsync(c, "", "1 Y", "1 day", "TRADES", True)
        assert len(bars) >= 250
        assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
        assert all(isinstance(b.date, date) for b in bars)
        assert bars[-1].date < SIM_TODAY  # daily bars end yesterday
        ivs = await ib.reqHistoricalDataAsync(
            c, "", "1 Y", "1 day", "OPTION_IMPLIED_VOLATILITY", True
        )
        assert len(ivs) >= 250
        assert all(0.03 < b.close < 1.5 for b in ivs)
        two = await ib.reqHistoricalDataAsync(c, "", "2 Y", "1 day", "TRADES", True)
        assert len(two) > 480
    finally:
        ib.disconnect()


async def test_extra_symbols_widen_the_universe(tws_sim_factory) -> None:
    import httpx

    sim = tws_sim_factory(extra=["--extra-symbols", "150"])
    symbols = httpx.get(sim.control_url + "/market", timeout=10).json()["symbols"]
    assert len(symbols) == 200 and "AAPL" in symbols
    assert [s for s in symbols if s.startswith("SIM")] == [f"SIM{n:03d}" for n in range(1, 151)]
    ib, _ = await connect(sim)
    try:
        [stock] = await ib.qualifyContractsAsync(Stock("SIM150", "SMART", "USD"))
        assert stock.conId == symbols["SIM150"]["con_id"]
        [line] = await ib.reqTickersAsync(stock)
        assert 0 < line.bid < line.ask
        [params] = [
            p
            for p in await ib.reqSecDefOptParamsAsync("SIM150", "", "STK", stock.conId)
            if p.exchange == "SMART"
        ]
        put = Option("SIM150", sorted(params.expirations)[0], 0.0, "P", "SMART")
        details = await ib.reqContractDetailsAsync(put)
        [option] = await ib.qualifyContractsAsync(details[0].contract)
        assert option.symbol == "SIM150" and option.right == "P"
    finally:
        ib.disconnect()
