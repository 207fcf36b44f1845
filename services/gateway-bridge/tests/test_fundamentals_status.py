"""A stock's fundamentals say how IB answered tick 258 (`Fundamentals.status`): "ok" with the
ratios, "not_subscribed" with IB's code and message when the account lacks the fundamentals
subscription (tws-sim's entitlement switch: 10358, as IB), "no_answer" when nothing came within
the bridge's wait (tws-sim's data farm down: the line streams nothing), "not_supported" with IB's
321 when the Gateway no longer knows tick 258 (TWS API 10.47; tws-sim's `/control/gateway`). The
trader buys the subscription for the first, scans again for the second, and judges without
fundamentals for the third. A tws-sim of its own: the tests switch its entitlements, its farm
and its Gateway; each asks a symbol no other test asked (the bridge keeps a whole stock answer
5 s, and ok fundamentals for the IB trading day)."""

from __future__ import annotations

from bridge_helpers import api, ctl, metric, wait_for
from wheeldesk_testing.procs import Proc


def stock(bridge: Proc, symbol: str) -> dict:
    r = api(bridge, "GET", f"/v1/stocks/{symbol}")
    assert r.status_code == 200, r.text
    return r.json()


def test_refused_fundamentals_name_ibs_code(bridge: Proc, sim: Proc) -> None:
    ctl(sim, "/control/entitlements", {"fundamentals": False})
    try:
        info = stock(bridge, "PEP")
    finally:
        ctl(sim, "/control/entitlements", {"fundamentals": True})
    f = info["fundamentals"]
    assert (f["status"], f["ib_code"]) == ("not_subscribed", 10358)
    assert f["reason"] == "Fundamentals data is not allowed."
    assert f["market_cap"] is None and f["roe"] is None
    # the rest of the line still came
    assert info["quote"]["price"] > 0 and info["implied_volatility"] > 0
    # entitled: the ratios and "ok", no code
    ok = stock(bridge, "JNJ")["fundamentals"]
    assert (ok["status"], ok["ib_code"], ok["reason"]) == ("ok", None, None)
    assert ok["market_cap"] > 1e10


def test_no_answer_in_time_is_not_a_refusal(bridge: Proc, sim: Proc) -> None:
    ctl(sim, "/control/farm", {"state": "down"})  # lines open, no ticks on them
    try:
        info = stock(bridge, "KO")
    finally:
        ctl(sim, "/control/farm", {"state": "up"})
    f = info["fundamentals"]
    assert (f["status"], f["ib_code"]) == ("no_answer", None)
    assert f["reason"] == "IB sent no tick 258 within 5 s"
    assert f["market_cap"] is None
    # Not kept for the day: once the farm is back, IB is asked again and the ratios come.
    back = wait_for(
        lambda: (g := stock(bridge, "KO")["fundamentals"])["status"] == "ok" and g,
        timeout=60,
        what="KO's fundamentals once the farm is up",
    )
    assert back["market_cap"] > 1e10 and back["ib_code"] is None


def md_requests(sim: Proc) -> dict:
    """tws-sim's market-data counts since the last reset: the generic ticks of the requests
    it took, and the requests it refused by IB code."""
    counts = ctl(sim, "/state/requests")
    return {**counts["market_data"], "refused": counts["market_data_refused"]}


def test_gateway_without_tick_258_is_asked_again_without_it(bridge: Proc, sim: Proc) -> None:
    ctl(sim, "/control/gateway", {"tick_258": False})
    try:
        ctl(sim, "/control/reset-counters", {})
        first = stock(bridge, "XOM")
        # One 321 for the request naming 258, asked again at once without it: the caller
        # gets the stock's price, IV and dividends, and why there are no fundamentals.
        assert md_requests(sim)["refused"] == {"321": 1}
        ctl(sim, "/control/reset-counters", {})
        second = stock(bridge, "CVX")
        # Remembered for the connection: the next stock is asked without 258 from the start.
        md = md_requests(sim)
        assert md["refused"] == {} and "258" not in md["generic_ticks"]
        assert md["generic_ticks"]["106"] >= 1 and md["generic_ticks"]["456"] == 1
    finally:
        ctl(sim, "/control/gateway", {"tick_258": True})
    for info in (first, second):
        f = info["fundamentals"]
        assert (f["status"], f["ib_code"]) == ("not_supported", 321)
        assert f["reason"] == (
            "this IB Gateway version no longer provides fundamental ratios (tick 258)"
        )
        assert f["market_cap"] is None and f["beta"] is None
        assert info["quote"]["price"] > 0 and info["implied_volatility"] > 0
        assert f["ex_dividend"] is not None  # tick 456 came
    # The fallback is logged once, not per symbol.
    assert bridge.log_text().count("refused generic tick 258") == 1
    # A reconnect may reach another Gateway: 258 is asked again, and now the ratios come.
    connects = metric(bridge, "wheeldesk_bridge_ib_connects_total")
    ctl(sim, "/control/drop", {})
    wait_for(
        lambda: (
            metric(bridge, "wheeldesk_bridge_ib_connects_total") > connects
            and api(bridge, "GET", "/readyz").status_code == 200
        ),
        timeout=60,
        what="the bridge reconnected",
    )
    ctl(sim, "/control/reset-counters", {})
    f = stock(bridge, "VZ")["fundamentals"]
    assert (f["status"], f["ib_code"]) == ("ok", None) and f["market_cap"] > 1e9
    md = md_requests(sim)
    assert md["generic_ticks"]["258"] == 1 and md["refused"] == {}
