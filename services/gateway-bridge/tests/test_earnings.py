"""Next earnings dates: Wall Street Horizon through the bridge, with and without the subscription."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from bridge_helpers import bridge_env, client, ctl, wait_for
from gateway_bridge.earnings import next_earnings_from_wsh
from wheeldesk_testing.procs import Proc, service_proc, tws_sim_proc

# ---- the WSH answer parser (IB publishes no schema: read what public clients report) -----------


def test_parser_takes_the_earliest_upcoming_earnings_of_the_stock() -> None:
    today = date(2026, 11, 26)
    events = [
        {"event_type": "wshe_ed", "index_date": "20261020", "conid": "7"},  # past
        {"event_type": "wshe_ed", "index_date": "20270201", "conid": "7"},
        {"event_type": "wshe_ed", "conid": "7", "data": {"earnings_date": "20261210"}},
        {"event_type": "wshe_ed", "index_date": "20261201", "conid": "8"},  # another stock
        {"event_type": "wshe_bod", "index_date": "20261128", "conid": "7"},  # not earnings
    ]
    day, event = next_earnings_from_wsh(json.dumps(events), 7, today)  # type: ignore[misc]
    assert day == date(2026, 12, 10) and event["data"]["earnings_date"] == "20261210"
    # an announcement time in UTC counts on New York's date (01:00 UTC = 20:00 the day before)
    eps = [{"event_type": "wshe_eps", "data": {"announce_datetime": "20261203T010000+0000"}}]
    assert next_earnings_from_wsh(json.dumps(eps), 7, today)[0] == date(2026, 12, 2)  # type: ignore[index]
    assert next_earnings_from_wsh(json.dumps({"events": events[:1]}), 7, today) is None
    assert next_earnings_from_wsh("not json", 7, today) is None
    assert next_earnings_from_wsh("", 7, today) is None


# ---- against tws-sim -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim_and_bridge(nats_server: Proc) -> Iterator[tuple[Proc, Proc]]:
    """A tws-sim of its own (its first day fixes the earnings calendar) and a bridge on it."""
    sim = tws_sim_proc().start()
    bridge = service_proc(
        "gateway-bridge",
        bridge_env(sim, nats_server.url, IB_SIMULATED="true", WSH_TIMEOUT="1"),  # type: ignore[attr-defined]
    )
    bridge.start(timeout=90)
    yield sim, bridge
    bridge.stop()
    sim.stop()


def sim_first_report(sim: Proc, days: int) -> date:
    """universe.json's `earnings_in_days` counted from the simulator's first day (weekend → Mon)."""
    now = datetime.fromisoformat(ctl(sim, "/state")["sim_time"])
    d = now.astimezone(ZoneInfo("America/New_York")).date() + timedelta(days=days)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def wsh_requests(sim: Proc) -> tuple[int, int]:
    counts = ctl(sim, "/state/requests")["requests"]
    return counts.get("reqWshMetaData", 0), counts.get("reqWshEventData", 0)


def test_stock_carries_next_earnings_from_wsh_cached(sim_and_bridge: tuple[Proc, Proc]) -> None:
    sim, bridge = sim_and_bridge
    csco = client(bridge).stock("CSCO")
    assert csco.fundamentals.next_earnings == sim_first_report(sim, 12)
    assert csco.fundamentals.next_earnings_note in (
        "Wall Street Horizon (Confirmed, AMC)",
        "Wall Street Horizon (Confirmed, BMO)",
    )
    ko = client(bridge).stock("KO").fundamentals
    assert ko.next_earnings == sim_first_report(sim, 75)
    assert ko.next_earnings_note.startswith("Wall Street Horizon (Unconfirmed")  # type: ignore[union-attr]
    assert client(bridge).stock("SPY").fundamentals.next_earnings is None  # an ETF
    assert wsh_requests(sim) == (1, 3)  # metadata once per connection, one event request each
    # once the stock itself is fetched again (its cache is seconds), the date comes from cache
    first_ts = csco.quote.ts
    again = wait_for(
        lambda: (s := client(bridge).stock("CSCO")).quote.ts != first_ts and s,
        what="a fresh CSCO stock fetch",
    )
    assert again.fundamentals.next_earnings == csco.fundamentals.next_earnings
    assert wsh_requests(sim) == (1, 3)


def test_no_wsh_subscription_gives_null_with_the_reason(
    sim_and_bridge: tuple[Proc, Proc],
) -> None:
    sim, bridge = sim_and_bridge
    ctl(sim, "/control/wsh", {"subscribed": False})
    try:
        ctl(sim, "/control/drop", {})  # a new connection asks for the metadata again
        nke = wait_for(lambda: client(bridge).stock("NKE"), what="bridge reconnected")
        assert nke.fundamentals.next_earnings is None
        note = nke.fundamentals.next_earnings_note or ""
        assert "no Wall Street Horizon subscription" in note and "10276" in note
        assert nke.quote.price is not None and nke.fundamentals.beta is not None  # rest intact
        asked = wsh_requests(sim)
        pep = client(bridge).stock("PEP").fundamentals
        assert pep.next_earnings is None and "10276" in (pep.next_earnings_note or "")
        assert wsh_requests(sim) == asked  # the refusal is remembered for the account
    finally:
        ctl(sim, "/control/wsh", {"subscribed": True})
    ctl(sim, "/control/drop", {})  # after a reconnect the bridge asks again
    nke = wait_for(
        lambda: (s := client(bridge).stock("NKE")).fundamentals.next_earnings and s,
        what="NKE earnings once subscribed",
    )
    assert nke.fundamentals.next_earnings == sim_first_report(sim, 19)


def test_wsh_timeout_gives_null_and_the_stock_still_answers(
    sim_and_bridge: tuple[Proc, Proc],
) -> None:
    sim, bridge = sim_and_bridge
    wait_for(lambda: client(bridge).stock("KO"), what="bridge connected")
    ctl(sim, "/control/latency", {"ms": 1500})  # longer than WSH_TIMEOUT=1
    try:
        jnj = client(bridge).stock("JNJ")
    finally:
        ctl(sim, "/control/latency", {"ms": 0})
    assert jnj.quote.price is not None
    assert jnj.fundamentals.next_earnings is None
    timed_out = "IBKR did not answer the Wall Street Horizon request in 1 s"
    assert jnj.fundamentals.next_earnings_note == timed_out
    # for the next minute WSH is skipped: the following stock does not wait on it again
    asked = wsh_requests(sim)
    mrk = client(bridge).stock("MRK").fundamentals
    assert mrk.next_earnings is None and mrk.next_earnings_note == timed_out
    assert wsh_requests(sim) == asked
