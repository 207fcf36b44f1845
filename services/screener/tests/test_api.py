"""The HTTP API in-process: validation errors name the field, pricing, inline scans, jobs."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from screener import tiers, wheel
from screener.app import build_app
from screener.settings import ScreenerSettings
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.market import (
    Chain,
    Fundamentals,
    OptionContract,
    OptionQuote,
    Quote,
)
from wheeldesk.schemas.screener import Criteria, ScanRequest, SymbolData
from wheeldesk_testing.moments import SIM_START
from wheeldesk_testing.procs import free_port

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    settings = ScreenerSettings(
        internal_api_token=TOKEN,
        bridge_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: the bridge is down
        nats_url=f"nats://127.0.0.1:{free_port()}",
        risk_free_rate=0.0,
    )
    with TestClient(build_app(settings), base_url="http://127.0.0.1") as c:
        yield c


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({"dte_min": 50, "dte_max": 10}, "criteria.dte_max"),
        ({"delta_min": 1.5}, "criteria.delta_min"),
        ({"delta_max": -0.1}, "criteria.delta_max"),
        ({"delta_min": 0.4, "delta_max": 0.2}, "criteria.delta_max"),
        ({"min_apy_typo": 5}, "criteria.min_apy_typo"),
    ],
)
def test_bad_criteria_answer_422_naming_the_field(client, criteria, field) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/v1/scans", json={"symbols": ["KO"], "criteria": criteria}, headers=AUTH
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid" and body["field"] == field
    if "dte_min" in criteria:
        assert "dte_min must be <= dte_max" in body["message"]


def test_unknown_top_level_field_and_missing_token(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/v1/scans", json={"symbols": ["KO"], "bogus": 1}, headers=AUTH)
    assert response.status_code == 422 and response.json()["field"] == "bogus"
    assert client.post("/v1/scans", json={"symbols": ["KO"]}).status_code == 401


def test_scan_without_inline_data_while_the_bridge_is_down_is_503(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/v1/scans", json={"symbols": ["KO"]}, headers=AUTH)
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "bridge_unavailable" and "gateway-bridge not ready" in body["message"]


def test_price_batch_iv_greeks_pop_and_flags(client) -> None:  # type: ignore[no-untyped-def]
    put = {"right": "P", "spot": 100.0, "strike": 95.0, "dte": 30, "rate": 0.0}
    response = client.post(
        "/v1/price",
        json={
            "items": [
                {**put, "iv": 0.25},
                {**put, "price": 1.0},
                {**put, "strike": 120.0, "price": 19.0},  # below intrinsic (20)
                {**put, "price": 96.0},  # above the put's bound (K = 95)
                {**put},  # neither price nor IV
            ]
        },
        headers=AUTH,
    )
    assert response.status_code == 200
    r = response.json()["results"]
    # POP of the short 95 put at 25 % vol: N(d2) = 0.751692 (worked in test_wheel)
    assert r[0]["pop"] == pytest.approx(75.1692, abs=1e-3)
    assert r[0]["iv"] == 0.25 and r[0]["iv_flag"] is None
    assert -1 < r[0]["delta"] < 0 and r[0]["theta"] < 0 and r[0]["vega"] > 0
    # the IV solved from a price reprices to that price
    assert r[1]["iv_flag"] is None and r[1]["price"] == pytest.approx(1.0, abs=1e-10)
    assert r[2]["iv"] is None and r[2]["iv_flag"] == "below_intrinsic"
    assert r[3]["iv"] is None and r[3]["iv_flag"] == "above_upper_bound"
    assert r[4]["iv"] is None and r[4]["iv_flag"] == "no_price_or_iv"


NOW = SIM_START  # every inline scan below runs at this pinned moment (ScanRequest.now)


def _expiry(days: int) -> date:
    return (NOW.astimezone(wheel.NY) + timedelta(days=days)).date()


def _quote(symbol: str, expiry: date, strike: float, right: str, bid: float, ask: float, **kw):  # type: ignore[no-untyped-def]
    return OptionQuote(
        contract=OptionContract(symbol=symbol, expiry=expiry, strike=strike, right=right),
        bid=bid,
        ask=ask,
        open_interest=kw.pop("oi", 2000),
        volume=100,
        **kw,
    )


def _data(
    symbol: str = "KO", price: float = 60.0, options: list | None = None, **fund
) -> SymbolData:  # type: ignore[no-untyped-def]
    quote = Quote(symbol=symbol, bid=price - 0.01, ask=price + 0.01, last=price)
    fundamentals = Fundamentals(
        **({"beta": 0.6, "roe": 40.0, "free_cash_flow": 9e9, "market_cap": 260e9} | fund)
    )
    return SymbolData(
        symbol=symbol,
        quote=quote,
        fundamentals=fundamentals,
        chains=[Chain(symbol=symbol, underlying=quote, expirations=[], options=options or [])],
        iv_history=[0.15, 0.18, 0.20, 0.30, 0.22],
    )


def test_inline_scan_ranks_puts_and_explains_every_rejection(client) -> None:  # type: ignore[no-untyped-def]
    e30 = _expiry(30)
    options = [
        _quote("KO", e30, 57.0, "P", 0.50, 0.52, iv=0.22, delta=-0.22),  # passes
        _quote("KO", e30, 56.0, "P", 0.48, 0.50, iv=0.23, delta=-0.16),  # passes
        _quote("KO", e30, 55.0, "P", 0.05, 0.30, iv=0.24, delta=-0.15),  # spread 142 %
        _quote("KO", e30, 59.0, "P", 0.95, 1.00, iv=0.21, delta=-0.45),  # delta outside band
        _quote("KO", e30, 57.5, "P", 0.60, 0.62, oi=3),  # no IB greeks: model IV; OI 3
        _quote("KO", _expiry(120), 55.0, "P", 1.5, 1.55, iv=0.2, delta=-0.2),  # DTE window
    ]
    request = ScanRequest(
        now=NOW,
        symbols=["KO", "RIVN"],
        data=[
            _data(options=options),
            _data("RIVN", 12.0, beta=2.3, roe=-45.0, free_cash_flow=-5e9, market_cap=15e9),
        ],
    )
    response = client.post("/v1/scans", json=request.model_dump(mode="json"), headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    sig = body["signals"]
    assert sorted(s["contract"]["strike"] for s in sig) == [56.0, 57.0]
    assert sig[0]["score"] >= sig[1]["score"]  # ranked
    top = next(s for s in sig if s["contract"]["strike"] == 57.0)
    dte = top["dte"]
    # premium 0.50 (bid) on the 57 strike: yield 0.50/57 = 0.8772 %, APY x 365/DTE
    assert top["premium"] == 0.50 and top["yield_pct"] == pytest.approx(0.50 / 57 * 100, abs=1e-4)
    assert top["apy"] == pytest.approx(0.50 / 57 * 365 / dte * 100, abs=0.01)
    assert top["breakeven"] == pytest.approx(56.50)
    assert top["collateral"] == 5700.0
    assert top["spread_pct"] == pytest.approx(0.02 / 0.51 * 100, abs=0.01)
    # IV rank from the history (now = last point 0.22): (0.22-0.15)/(0.30-0.15) = 46.7;
    # IV percentile: 0.15, 0.18, 0.20 below 0.22 of the 4 days before today = 75
    # (today is not in its own denominator: not 3 / 5 = 60)
    assert top["iv_rank"] == pytest.approx(46.7) and top["iv_percentile"] == pytest.approx(75.0)
    assert top["tier"] == tiers.tier(top["score"])
    assert top["distance_pct"] == pytest.approx(5.0)  # (60 - 57) / 60
    rules = {r["contract"]: r["rule"] for r in body["rejections"] if r["contract"]}
    assert rules[f"KO {e30} 55P"] == "max_spread_pct"
    assert rules[f"KO {e30} 59P"] == "delta_band"
    assert rules[f"KO {e30} 57.5P"] == "min_open_interest"
    assert rules[f"KO {_expiry(120)} 55P"] == "dte_window"
    rivn = [r for r in body["rejections"] if r["symbol"] == "RIVN"]
    assert rivn == [
        {
            "symbol": "RIVN",
            "rule": "min_roe",
            "message": "CSP: ROE -45.0% is below the minimum 10%",
            "contract": None,
        }
    ]


def _position(**kw) -> Position:  # type: ignore[no-untyped-def]
    return Position(account_id="DU7654321", **kw)


def test_inline_covered_call_take_profit_and_roll(client) -> None:  # type: ignore[no-untyped-def]
    e20, e40, e3 = _expiry(20), _expiry(40), _expiry(3)
    ko_options = [
        _quote("KO", e20, 62.0, "C", 0.40, 0.42, iv=0.2, delta=0.25),
        _quote("KO", e20, 58.0, "C", 2.40, 2.45, iv=0.2, delta=0.28),  # below the cost basis
    ]
    pep_options = [  # held short put, 3 DTE, cheap to buy back? no: 80 % captured
        _quote("PEP", e20, 140.0, "P", 0.30, 0.32, iv=0.2, delta=-0.1),
    ]
    aapl_options = [
        _quote("AAPL", e3, 200.0, "P", 3.00, 3.10, iv=0.3, delta=-0.6),  # held, ITM, 3 DTE
        _quote("AAPL", e40, 200.0, "P", 6.00, 6.10, iv=0.3, delta=-0.45),  # roll: credit 2.90
        _quote("AAPL", e40, 190.0, "P", 2.50, 2.60, iv=0.3, delta=-0.25),  # debit: not a roll
    ]
    positions = [
        _position(symbol="KO", sec_type="STK", quantity=200, avg_cost=60.0),
        _position(
            symbol="PEP",
            sec_type="OPT",
            quantity=-1,
            avg_cost=160.0,
            expiry=e20,
            strike=140.0,
            right="P",
            multiplier=100,
        ),
        _position(
            symbol="AAPL",
            sec_type="OPT",
            quantity=-2,
            avg_cost=250.0,
            expiry=e3,
            strike=200.0,
            right="P",
            multiplier=100,
        ),
    ]
    request = ScanRequest(
        now=NOW,
        symbols=["KO", "PEP", "AAPL"],
        criteria=Criteria(min_apy=1.0, max_spread_pct=20.0),
        positions=positions,
        data=[
            _data("KO", 60.5, options=ko_options),
            _data("PEP", 150.0, options=pep_options),
            _data("AAPL", 197.0, options=aapl_options),
        ],
    )
    response = client.post("/v1/scans", json=request.model_dump(mode="json"), headers=AUTH)
    assert response.status_code == 200, response.text
    sig = {(s["kind"], s["symbol"]): s for s in response.json()["signals"]}
    cc = sig[("CC", "KO")]
    assert cc["contract"]["strike"] == 62.0  # the 58 call is below the 60 cost basis
    # if called: (0.40 + 62 - 60) / 60 = 2.40 / 60 = 4 %; yield on basis 0.40 / 60 = 0.6667 %
    assert cc["if_called_return"] == pytest.approx(4.0)
    assert cc["yield_pct"] == pytest.approx(0.6667, abs=1e-4)
    assert cc["breakeven"] == pytest.approx(59.60)
    # PEP: sold for 1.60 (avg cost 160 per contract), buy back at the 0.32 ask:
    # captured = (1.60 - 0.32) / 1.60 = 80 % >= 50 % -> CLOSE
    close = sig[("CLOSE", "PEP")]
    assert close["captured_pct"] == pytest.approx(80.0) and close["net_credit"] == -0.32
    # AAPL: 3 DTE <= 7 -> roll the 200 put to the later 200 put: 6.00 - 3.10 = 2.90 credit
    roll = sig[("ROLL", "AAPL")]
    assert roll["contract"]["expiry"] == e40.isoformat() and roll["contract"]["strike"] == 200.0
    assert roll["net_credit"] == pytest.approx(2.90)
    assert roll["roll_from"]["expiry"] == e3.isoformat()
    assert roll["captured_pct"] == pytest.approx((2.50 - 3.10) / 2.50 * 100, abs=0.1)


def test_more_than_200_symbols_run_as_a_job(client) -> None:  # type: ignore[no-untyped-def]
    symbols = [f"S{i:03d}" for i in range(201)]
    request = ScanRequest(now=NOW, symbols=symbols, data=[_data(s, 60.0) for s in symbols])
    response = client.post("/v1/scans", json=request.model_dump(mode="json"), headers=AUTH)
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "running" and job["symbols_total"] == 201
    assert response.headers["location"] == f"/v1/scans/{job['scan_id']}"
    deadline = time.monotonic() + 60
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = client.get(f"/v1/scans/{job['scan_id']}", headers=AUTH).json()
    assert job["status"] == "done"
    assert len(job["result"]["symbols"]) == 201
    assert {r["rule"] for r in job["result"]["rejections"]} == {"no_contracts"}
    missing = client.get("/v1/scans/nope", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["field"] == "scan_id"


@pytest.mark.parametrize("mode", ["exclude", "flag", "ignore"])
def test_expiries_spanning_earnings_are_excluded_or_flagged(client, mode) -> None:  # type: ignore[no-untyped-def]
    e30 = _expiry(30)
    options = [_quote("KO", e30, 57.0, "P", 0.50, 0.52, iv=0.22, delta=-0.22)]
    data = _data(options=options, next_earnings=_expiry(10).isoformat())
    request = ScanRequest(now=NOW, symbols=["KO"], criteria=Criteria(earnings=mode), data=[data])
    body = client.post("/v1/scans", json=request.model_dump(mode="json"), headers=AUTH).json()
    if mode == "exclude":
        assert body["signals"] == []
        assert [r["rule"] for r in body["rejections"]] == ["earnings"]
        earnings = f"earnings on {_expiry(10):%Y-%m-%d} come before this expiry"
        assert body["rejections"][0]["message"] == f"CSP: {earnings}"
    else:
        (signal,) = body["signals"]
        assert signal["earnings_before_expiry"] is True
        assert f"earnings on {_expiry(10):%Y-%m-%d} come before this expiry" in signal["reasons"]


def test_unknown_earnings_date_with_the_bridges_reason_is_a_signal_reason(client) -> None:  # type: ignore[no-untyped-def]
    options = [_quote("KO", _expiry(30), 57.0, "P", 0.50, 0.52, iv=0.22, delta=-0.22)]
    note = "no Wall Street Horizon subscription on this IBKR account (IB 10276: ...)"
    data = _data(options=options, next_earnings_note=note)
    for mode, expected in (("exclude", True), ("ignore", False)):
        request = ScanRequest(
            now=NOW, symbols=["KO"], criteria=Criteria(earnings=mode), data=[data]
        )
        body = client.post("/v1/scans", json=request.model_dump(mode="json"), headers=AUTH).json()
        (signal,) = body["signals"]  # the rule cannot reject without a date
        assert signal["earnings_before_expiry"] is False
        reason = f"next earnings date unknown ({note}): check it before selling"
        assert (reason in signal["reasons"]) is expected


def test_collateral_cap_and_buying_power(client) -> None:  # type: ignore[no-untyped-def]
    e30 = _expiry(30)
    options = [_quote("KO", e30, 57.0, "P", 0.50, 0.52, iv=0.22, delta=-0.22)]
    capped = ScanRequest(
        now=NOW,
        symbols=["KO"],
        criteria=Criteria(max_collateral=5000),
        data=[_data(options=options)],
    )
    body = client.post("/v1/scans", json=capped.model_dump(mode="json"), headers=AUTH).json()
    assert body["rejections"][0]["rule"] == "max_collateral"
    assert body["rejections"][0]["message"] == "CSP: collateral 5,700 USD exceeds the cap 5,000"
    poor = ScanRequest(now=NOW, symbols=["KO"], buying_power=3000.0, data=[_data(options=options)])
    body = client.post("/v1/scans", json=poor.model_dump(mode="json"), headers=AUTH).json()
    assert body["rejections"][0]["rule"] == "buying_power"


@pytest.mark.parametrize("multiplier", [None, 1, 100])
def test_premium_received_is_per_share_whatever_multiplier_the_position_carries(
    client, multiplier
) -> None:  # type: ignore[no-untyped-def]
    """IB's avg cost of 160 for a short put is per contract: 1.60 a share received, not 160.

    A position whose source left the multiplier at the schema's default 1 (or sent 1) is
    still a 100-share contract; counted as 160 a share, every short would look 99.8 %
    captured and be closed at once.
    """
    e20 = _expiry(20)
    extra = {} if multiplier is None else {"multiplier": multiplier}
    held = _position(
        symbol="PEP",
        sec_type="OPT",
        quantity=-1,
        avg_cost=160.0,
        expiry=e20,
        strike=140.0,
        right="P",
        **extra,
    )
    # buy back at 0.96: (1.60 - 0.96) / 1.60 = 40 % captured < 50 %, 20 DTE > 7: hold
    options = [_quote("PEP", e20, 140.0, "P", 0.94, 0.96, iv=0.2, delta=-0.3)]
    request = ScanRequest(
        now=NOW,
        symbols=["PEP"],
        criteria=Criteria(min_apy=1.0, max_spread_pct=20.0),
        positions=[held],
        data=[_data("PEP", 150.0, options=options)],
    )
    body = client.post("/v1/scans", json=request.model_dump(mode="json"), headers=AUTH).json()
    assert [s["kind"] for s in body["signals"] if s["kind"] in ("CLOSE", "ROLL")] == []
    [hold] = [r for r in body["rejections"] if r["rule"] == "hold"]
    assert (
        hold["message"].startswith("held PEP ")
        and ": 40% captured (< 50%), 20 DTE" in hold["message"]
    )


def test_a_small_scan_asked_as_a_job_reports_each_symbol_as_it_finishes(client) -> None:  # type: ignore[no-untyped-def]
    """`?job=true`: the web shows "Scanning 2/3 symbols: KO done" while the scan runs."""
    symbols = ["KO", "PEP", "T"]
    request = ScanRequest(now=NOW, symbols=symbols, data=[_data(s, 60.0) for s in symbols])
    body = request.model_dump(mode="json")
    response = client.post("/v1/scans?job=true", json=body, headers=AUTH)
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "running" and job["symbols_total"] == 3
    deadline = time.monotonic() + 30
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = client.get(f"/v1/scans/{job['scan_id']}", headers=AUTH).json()
    assert job["status"] == "done" and job["symbols_done"] == 3
    assert job["last_symbol"] == "T"  # inline data is scanned in order
    assert client.post("/v1/scans", json=body, headers=AUTH).status_code == 200  # no job asked
