"""A Gateway without generic tick 258 (fundamental ratios), as TWS API 10.47 (2026) de-supported
it: a reqMktData whose tick list names 258 is refused whole with IB's 321, legal list without 258,
and no tick follows (no price, no IV, no dividends); the same line without 258 streams. Switched
by `--no-tick-258` / `TWS_SIM_TICK_258` and `POST /control/gateway`, through the real ib_insync
client. Each test runs a tws-sim of its own (the switch is the simulator's state).
"""

from __future__ import annotations

import httpx
import pytest
from ib_insync import Stock
from tws_sim.ctl import build_body
from tws_sim.settings import TwsSimSettings, load
from twssim_helpers import connect, ctl, wait_for

# IB's words, up to the legal list.
REFUSAL = "Error validating request.-'bO' : cause - Incorrect generic tick list of 258.  "


def test_flag_and_environment_variable(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for name in TwsSimSettings.model_fields:
        monkeypatch.delenv(f"TWS_SIM_{name.upper()}", raising=False)
    assert load([]).tick_258 is True
    assert load(["--no-tick-258"]).tick_258 is False
    monkeypatch.setenv("TWS_SIM_TICK_258", "false")
    assert load([]).tick_258 is False
    assert load(["--tick-258"]).tick_258 is True  # a flag wins over the environment
    assert build_body("gateway", ["tick_258=false"]) == {"tick_258": False}


async def test_tick_list_naming_258_is_refused_whole(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=["--no-tick-258"])
    assert ctl(sim, "/state")["faults"]["tick_258"] is False
    ib, errors = await connect(sim)
    try:
        [ko] = await ib.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        refused = ib.reqMktData(ko, "106,258,456", False, False)
        await wait_for(lambda: 321 in errors.codes(), what="321")
        [(_, _, message)] = [e for e in errors.items if e[1] == 321]
        assert message.startswith(REFUSAL + "Legal ones for (STK) are: 100(Option Volume),")
        legal = message.removeprefix(REFUSAL)
        assert "106(impvolat)" in legal and "456/59(IBDividends)" in legal
        assert "258" not in legal
        await ib.reqCurrentTimeAsync()  # one round trip on the ordered stream: ticks would be in
        assert refused.bid != refused.bid and refused.last != refused.last  # nan: no price
        assert refused.dividends is None and refused.fundamentalRatios is None
        ib.cancelMktData(ko)
        # Without 258 the same stock's line streams its price, IV and dividends.
        line = ib.reqMktData(ko, "106,456", False, False)
        await wait_for(
            lambda: line.last > 0 and line.impliedVolatility > 0 and line.dividends is not None,
            what="price, IV and dividends without 258",
        )
        ib.cancelMktData(ko)
        [snap] = await ib.reqTickersAsync(ko)  # a snapshot names no generic tick: answered
        assert snap.last > 0
    finally:
        ib.disconnect()
    counts = ctl(sim, "/state/requests")
    assert counts["market_data_refused"] == {"321": 1}
    # only the requests taken count their ticks
    assert "258" not in counts["market_data"]["generic_ticks"]


async def test_switch_on_the_control_api(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    assert ctl(sim, "/control/gateway", {"tick_258": False}) == {"tick_258": False}
    ib, errors = await connect(sim)
    try:
        [pep] = await ib.qualifyContractsAsync(Stock("PEP", "SMART", "USD"))
        ib.reqMktData(pep, "258", False, False)
        await wait_for(lambda: 321 in errors.codes(), what="321 once switched off")
        ib.cancelMktData(pep)
        # Switched back (an older Gateway): new requests get the ratios, with no other 321.
        assert ctl(sim, "/control/gateway", {"tick_258": True}) == {"tick_258": True}
        t = ib.reqMktData(pep, "106,258", False, False)
        await wait_for(lambda: t.fundamentalRatios is not None, what="ratios again")
        assert errors.codes().count(321) == 1
        assert ctl(sim, "/state")["faults"]["tick_258"] is True
    finally:
        ib.disconnect()
    r = httpx.post(sim.control_url + "/control/gateway", json={"tick_258": "no"}, timeout=10)
    assert r.status_code == 400 and r.json()["field"] == "tick_258"
