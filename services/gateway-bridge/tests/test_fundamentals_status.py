"""A stock's fundamentals say how IB answered tick 258 (`Fundamentals.status`): "ok" with the
ratios, "not_subscribed" with IB's code and message when the account lacks the fundamentals
subscription (tws-sim's entitlement switch: 10358, as IB), "no_answer" when nothing came within
the bridge's wait (tws-sim's data farm down: the line streams nothing). The trader buys the
subscription for the one and scans again for the other. A tws-sim of its own: the tests switch
its entitlements and its farm; each asks a symbol no other test asked (the bridge keeps a whole
stock answer 5 s, and ok fundamentals for the IB trading day)."""

from __future__ import annotations

from bridge_helpers import api, ctl, wait_for
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
