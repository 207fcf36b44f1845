"""tws-sim in the NYSE calendar, seen through the real ib_insync client: weekends and holidays
are closed, early closes end at 13:00, expiries move off holidays, history skips them, and
outside regular hours quotes, frozen data and orders behave as on IB.

Every test pins its moment from `wheeldesk_testing.moments`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from ib_insync import IB, LimitOrder, Option, Stock
from twssim_helpers import connect, ctl, wait_for
from wheeldesk_testing.moments import (
    AFTER_CLOSE,
    EARLY_CLOSE,
    GOOD_FRIDAY,
    HOLIDAY_WEEK,
    NY,
    SATURDAY,
    SIM_START,
)


async def _expiries(ib: IB, symbol: str) -> list[str]:
    [stock] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    params = await ib.reqSecDefOptParamsAsync(symbol, "", "STK", stock.conId)
    return sorted(next(p for p in params if p.exchange == "SMART").expirations)


async def _snapshot(ib: IB, contract) -> object:
    [t] = await ib.reqTickersAsync(contract)
    return t


def _sim_time(sim) -> datetime:
    return datetime.fromisoformat(ctl(sim, "/state")["sim_time"]).astimezone(NY)


def _advance_to(sim, moment: datetime) -> None:
    seconds = (moment - _sim_time(sim)).total_seconds()
    assert seconds > 0, f"already past {moment}"
    ctl(sim, "/control/advance", {"seconds": seconds})


async def _put_near_spot(ib: IB, symbol: str, expiry: str, spot: float) -> Option:
    details = await ib.reqContractDetailsAsync(Option(symbol, expiry, 0.0, "P", "SMART"))
    assert details, f"no {symbol} puts on {expiry}"
    return min((d.contract for d in details), key=lambda c: abs(c.strike - 0.95 * spot))


def _spot(sim, symbol: str) -> float:
    return ctl(sim, "/market")["symbols"][symbol]["price"]


async def test_saturday_is_closed_quotes_absent_orders_rest_until_monday(tws_sim_factory) -> None:
    sim = tws_sim_factory(start=SATURDAY)
    market = ctl(sim, "/state")["market"]
    assert market["open"] is False and market["session_today"] is None
    # Juneteenth (Fri 06-19) was a holiday: the last session closed Thursday.
    assert market["last_close"] == "2026-06-18T16:00:00-04:00"
    assert market["next_open"] == "2026-06-22T09:30:00-04:00"
    ib, errors = await connect(sim)
    try:
        [stock] = await ib.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        [cd] = await ib.reqContractDetailsAsync(stock)
        assert cd.timeZoneId == "US/Eastern"
        assert cd.tradingHours.split(";")[:4] == [
            "20260620:CLOSED",
            "20260621:CLOSED",
            "20260622:0930-20260622:1600",
            "20260623:0930-20260623:1600",
        ]
        assert cd.liquidHours == cd.tradingHours

        t = await _snapshot(ib, stock)
        assert t.marketDataType == 1
        assert (t.bid, t.bidSize, t.ask, t.askSize) == (-1, 0, -1, 0)  # as IB on a weekend
        assert t.last > 0 and t.close > 0  # the stock keeps its last and close
        put = await _put_near_spot(ib, "KO", "20260717", _spot(sim, "KO"))
        pt = await _snapshot(ib, put)
        assert (pt.bid, pt.bidSize, pt.ask, pt.askSize) == (-1, 0, -1, 0)
        assert pt.modelGreeks is not None and pt.modelGreeks.delta < 0

        # Daily history: trading days only, the last one Thursday (no Juneteenth bar).
        bars = await ib.reqHistoricalDataAsync(stock, "", "10 D", "1 day", "TRADES", True)
        days = [b.date.isoformat() for b in bars]
        assert days[-1] == "2026-06-18" and "2026-06-19" not in days
        assert all(datetime.fromisoformat(d).weekday() < 5 for d in days)

        # A marketable order rests (PreSubmitted) through the weekend and fills at the open.
        trade = ib.placeOrder(stock, LimitOrder("BUY", 10, round(_spot(sim, "KO") * 1.05, 2)))
        await wait_for(lambda: trade.orderStatus.status == "PreSubmitted", what="PreSubmitted")
        await asyncio.sleep(0.8)  # several ticks of the tick loop: still resting
        assert trade.orderStatus.status == "PreSubmitted" and not trade.fills
        _advance_to(sim, datetime(2026, 6, 22, 9, 30, 5, tzinfo=NY))
        await wait_for(lambda: trade.orderStatus.status == "Filled", what="fill at the open")
        fill_time = trade.fills[0].execution.time.astimezone(NY)
        assert fill_time.date().isoformat() == "2026-06-22" and fill_time.hour == 9
        assert trade.fills[0].execution.shares == 10
        assert ctl(sim, "/state")["market"]["open"] is True
    finally:
        ib.disconnect()
    assert not [e for e in errors.items if e[1] not in (2104, 2106, 2158)]


async def test_good_friday_closed_expiry_listed_thursday(tws_sim_factory) -> None:
    sim = tws_sim_factory(start=GOOD_FRIDAY)
    assert ctl(sim, "/state")["market"]["open"] is False
    ib, _ = await connect(sim)
    try:
        [stock] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        [cd] = await ib.reqContractDetailsAsync(stock)
        assert cd.tradingHours.startswith("20270326:CLOSED;20270327:CLOSED;20270328:CLOSED;")
        # Today is Good Friday, so the listed weekly expiry was yesterday (expired); the
        # next Friday (04-02) is listed as usual.
        exps = await _expiries(ib, "AAPL")
        assert "20270326" not in exps and "20270325" not in exps and exps[0] == "20270402"
        bars = await ib.reqHistoricalDataAsync(stock, "", "1 Y", "1 day", "TRADES", True)
        days = {b.date.isoformat() for b in bars}
        # NYSE holidays of the past year have no bar; the day before Good Friday has one.
        for holiday in ("2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25", "2027-01-01"):
            assert holiday not in days
        assert "2027-03-25" in days and "2026-11-27" in days
        assert 245 <= len(bars) <= 253  # ~251 sessions a year, not 261 weekdays
    finally:
        ib.disconnect()
    # A week earlier the Good Friday weekly is listed on the Thursday before it.
    sim2 = tws_sim_factory(start=GOOD_FRIDAY - timedelta(days=7))
    ib, _ = await connect(sim2)
    try:
        exps = await _expiries(ib, "AAPL")
        assert "20270325" in exps and "20270326" not in exps
    finally:
        ib.disconnect()


async def test_early_close_at_1300(tws_sim_factory) -> None:
    sim = tws_sim_factory(start=EARLY_CLOSE)
    market = ctl(sim, "/state")["market"]
    assert market["open"] is True
    assert market["session_today"]["close"] == "2026-11-27T13:00:00-05:00"
    ib, _ = await connect(sim)
    try:
        [stock] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
        [cd] = await ib.reqContractDetailsAsync(stock)
        assert cd.tradingHours.split(";")[:2] == ["20261127:0930-20261127:1300", "20261128:CLOSED"]
        put = await _put_near_spot(ib, "MSFT", "20261218", _spot(sim, "MSFT"))
        before = await _snapshot(ib, put)
        assert before.bid > 0 and before.ask > before.bid
        _advance_to(sim, datetime(2026, 11, 27, 13, 0, 1, tzinfo=NY))
        assert ctl(sim, "/state")["market"]["open"] is False
        after = await _snapshot(ib, put)
        assert (after.bid, after.ask) == (-1, -1)
        trade = ib.placeOrder(put, LimitOrder("SELL", 1, 0.05))
        await wait_for(lambda: trade.orderStatus.status == "PreSubmitted", what="resting")
        await asyncio.sleep(0.6)
        assert trade.orderStatus.status == "PreSubmitted" and not trade.fills
    finally:
        ib.disconnect()


async def test_holiday_week_expiries_move_to_thursday_and_expire_at_the_early_close(
    tws_sim_factory,
) -> None:
    sim = tws_sim_factory(start=HOLIDAY_WEEK)
    ib, _ = await connect(sim)
    try:
        exps = await _expiries(ib, "SPY")
        assert exps[:2] == ["20261224", "20261231"]  # Christmas and New Year's Day are Fridays
        assert "20261225" not in exps and "20270101" not in exps
        # 12-24 closes at 13:00: the expiry is listed until then and gone after it.
        _advance_to(sim, datetime(2026, 12, 24, 12, 59, tzinfo=NY))
        assert (await _expiries(ib, "SPY"))[0] == "20261224"
        _advance_to(sim, datetime(2026, 12, 24, 13, 1, tzinfo=NY))
        assert (await _expiries(ib, "SPY"))[0] == "20261231"
    finally:
        ib.disconnect()


async def test_juneteenth_expiry_is_listed_on_thursday(tws_sim) -> None:
    ib, _ = await connect(tws_sim)
    try:
        exps = await _expiries(ib, "AAPL")
        assert exps[0] == "20260618" and "20260619" not in exps
        assert "20260702" in exps and "20260703" not in exps  # Independence Day observed
    finally:
        ib.disconnect()


async def test_after_the_close_frozen_data_shows_the_last_session(tws_sim_factory) -> None:
    sim = tws_sim_factory(start=AFTER_CLOSE)
    ib, _ = await connect(sim)
    try:
        [stock] = await ib.qualifyContractsAsync(Stock("JNJ", "SMART", "USD"))
        put = await _put_near_spot(ib, "JNJ", "20260717", _spot(sim, "JNJ"))
        live = await _snapshot(ib, put)
        assert live.marketDataType == 1 and (live.bid, live.ask) == (-1, -1)

        ib.reqMarketDataType(2)
        frozen = await _snapshot(ib, put)
        assert frozen.marketDataType == 2
        assert 0 < frozen.bid < frozen.ask
        ctl(sim, "/control/advance", {"seconds": 3 * 3600})  # the evening goes on ...
        again = await _snapshot(ib, put)
        assert (again.bid, again.ask) == (frozen.bid, frozen.ask)  # ... frozen at 16:00
        fs = await _snapshot(ib, stock)
        assert fs.marketDataType == 2 and 0 < fs.bid < fs.ask

        # A streaming frozen line turns live at the next open.
        t = ib.reqMktData(stock, "", False, False)
        await wait_for(lambda: t.marketDataType == 2 and t.bid > 0, what="frozen stream")
        _advance_to(sim, datetime(2026, 6, 18, 9, 30, 2, tzinfo=NY))
        await wait_for(lambda: t.marketDataType == 1, what="live at the open")
    finally:
        ib.disconnect()


async def test_demo_start_never_lands_on_a_closed_day() -> None:
    from tws_sim.market import parse_start

    # Saturday 2026-12-05 (the wall date these tests were written on): Friday 10:30 ET.
    sat = datetime(2026, 12, 5, 14, 0, tzinfo=NY)
    assert parse_start("demo", now=sat) == datetime(2026, 12, 4, 10, 30, tzinfo=NY)
    # Good Friday: Thursday 10:30; a trading day: now.
    assert parse_start("demo", now=GOOD_FRIDAY) == datetime(2027, 3, 25, 10, 30, tzinfo=NY)
    assert parse_start("demo", now=SIM_START) == SIM_START
