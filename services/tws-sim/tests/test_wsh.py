"""Wall Street Horizon earnings dates through the real ib_insync client (WshEventData)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from ib_insync import RequestError, Stock, WshEventData
from twssim_helpers import connect, ctl


def sim_today(sim) -> date:  # type: ignore[no-untyped-def]
    now = datetime.fromisoformat(ctl(sim, "/state")["sim_time"])
    return now.astimezone(
        ZoneInfo("America/New_York")
    ).date()  # the simulator's days are New York's


def expected_next(today: date, days: int) -> date:
    d = today + timedelta(days=days)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


async def test_metadata_then_earnings_by_watchlist_filter(tws_sim_factory) -> None:
    sim = tws_sim_factory()  # its own clock: the dates count from this simulator's first day
    ib, _ = await connect(sim)
    try:
        [csco] = await ib.qualifyContractsAsync(Stock("CSCO", "SMART", "USD"))
        meta = json.loads(await ib.getWshMetaDataAsync())
        assert "wshe_ed" in [t["tag"] for t in meta["event_types"]]
        assert "watchlist" in [f["tag"] for f in meta["filters"]]
        today = sim_today(sim)
        flt = {"country": "All", "watchlist": [str(csco.conId)], "limit": 10, "wshe_ed": "true"}
        raw = await ib.getWshEventDataAsync(
            WshEventData(filter=json.dumps(flt), startDate=today.strftime("%Y%m%d"))
        )
        events = json.loads(raw)
        # universe.json: CSCO reports 12 days after the simulator's first day, then quarterly
        nxt = expected_next(today, 12)
        assert [e["index_date"] for e in events] == [
            (nxt + timedelta(days=91 * k)).strftime("%Y%m%d") for k in range(5)
        ]
        first = events[0]
        assert first["event_type"] == "wshe_ed"
        assert first["conid"] == str(csco.conId)
        assert first["data"]["company"]["contract"] == "CSCO"
        assert first["data"]["earnings_date"] == nxt.strftime("%Y%m%d")
        assert first["data"]["earnings_date_status"] == "Confirmed"
        assert first["data"]["time_of_day"] in ("AMC", "BMO")
        # a later window and a limit narrow the answer; the conId form gives the same events
        raw = await ib.getWshEventDataAsync(
            WshEventData(
                conId=csco.conId,
                startDate=(nxt + timedelta(days=1)).strftime("%Y%m%d"),
                totalLimit=1,
            )
        )
        [later] = json.loads(raw)
        assert later["index_date"] == (nxt + timedelta(days=91)).strftime("%Y%m%d")
        assert later["data"]["earnings_date_status"] == "Unconfirmed"
        # SPY is an ETF: no earnings at all
        [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
        flt["watchlist"] = [str(spy.conId)]
        assert json.loads(await ib.getWshEventDataAsync(WshEventData(filter=json.dumps(flt)))) == []
        assert ctl(sim, "/state/requests")["requests"]["reqWshEventData"] == 3
    finally:
        ib.disconnect()


async def test_event_data_before_metadata_and_bad_requests(tws_sim) -> None:
    ib, _ = await connect(tws_sim)
    ib.RaiseRequestErrors = True  # as the bridge runs it: an IB error raises
    try:
        with pytest.raises(RequestError) as err:
            await ib.getWshEventDataAsync(WshEventData(conId=756733))
        assert err.value.code == 10282
        await ib.getWshMetaDataAsync()
        with pytest.raises(RequestError) as err:  # a conId and a filter together
            await ib.getWshEventDataAsync(WshEventData(conId=756733, filter='{"wshe_ed": "true"}'))
        assert err.value.code == 10309
        with pytest.raises(RequestError) as err:
            await ib.getWshEventDataAsync(WshEventData(filter="{not json"))
        assert err.value.code == 10309
    finally:
        ib.disconnect()


async def test_no_wsh_subscription_gets_10276(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    ib, _ = await connect(sim)
    ib.RaiseRequestErrors = True
    try:
        assert ctl(sim, "/control/wsh", {"subscribed": False}) == {"subscribed": False}
        assert ctl(sim, "/state")["faults"]["wsh_subscribed"] is False
        with pytest.raises(RequestError) as err:
            await ib.getWshMetaDataAsync()
        assert (err.value.code, err.value.message) == (10276, "News feed is not allowed")
        with pytest.raises(RequestError) as err:
            await ib.getWshEventDataAsync(WshEventData(conId=756733))
        assert err.value.code == 10276
        ctl(sim, "/control/wsh", {"subscribed": True})
        await ib.getWshMetaDataAsync()
        [ko] = await ib.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        events = json.loads(await ib.getWshEventDataAsync(WshEventData(conId=ko.conId)))
        assert len(events) == 9 and {e["data"]["company"]["contract"] for e in events} == {"KO"}
    finally:
        ib.disconnect()
