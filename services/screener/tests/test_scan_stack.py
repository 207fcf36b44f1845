"""A scan against tws-sim through the real gateway-bridge, and the result on NATS.

The simulated account (tws-sim contract): 200 KO shares, one short AAPL put about a month
out; RIVN fails the fundamental rules; ZZZZ is unknown to IB.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import nats
import pytest
from wheeldesk import subjects
from wheeldesk.schemas.screener import Criteria, ScanEvent, ScanRequest, ScanResult

WATCHLIST = ["AAPL", "MSFT", "KO", "RIVN", "ZZZZ"]
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def stack(tws_sim_factory, nats_server, service_factory, internal_token):  # type: ignore[no-untyped-def]
    sim = tws_sim_factory()  # our own: other suites move the shared simulator's clock
    bridge = service_factory(
        "gateway-bridge",
        env={
            "IB_PORT": str(sim.port),
            "NATS_URL": nats_server.url,
            "IB_CLIENT_ID": "57",
            "IB_REQUEST_TIMEOUT": "20",
        },
    )
    screener = service_factory(
        "screener", env={"BRIDGE_URL": bridge.url, "NATS_URL": nats_server.url}
    )
    return sim, bridge, screener, {"Authorization": f"Bearer {internal_token}"}


async def _scan_and_event(screener_url: str, nats_url: str, headers: dict, body: dict):  # type: ignore[no-untyped-def]
    nc = await nats.connect(nats_url)
    got: asyncio.Queue = asyncio.Queue()

    async def handler(msg) -> None:  # type: ignore[no-untyped-def]
        await got.put((msg.subject, msg.data))

    await nc.subscribe(f"{subjects.SIGNALS_PREFIX}.>", cb=handler)
    await nc.flush()
    async with httpx.AsyncClient(timeout=300) as client:
        response = await client.post(f"{screener_url}/v1/scans", json=body, headers=headers)
    event = None
    if response.status_code == 200:
        scan_id = response.json()["scan_id"]
        while True:
            subject, data = await asyncio.wait_for(got.get(), timeout=30)
            if subject == subjects.signals(scan_id):
                event = ScanEvent.model_validate_json(data)
                break
    await nc.close()
    return response, event


def test_scan_through_the_bridge_finds_puts_calls_a_roll_and_says_why_not(
    stack, nats_server
) -> None:  # type: ignore[no-untyped-def]
    _, bridge, screener, headers = stack
    positions = httpx.get(f"{bridge.url}/v1/positions", headers=headers, timeout=60).json()
    account = httpx.get(f"{bridge.url}/v1/account", headers=headers, timeout=60).json()
    ko = next(p for p in positions if p["symbol"] == "KO" and p["sec_type"] == "STK")
    short_put = next(p for p in positions if p["symbol"] == "AAPL" and p["sec_type"] == "OPT")
    # KO's options are penny-wide on a 60 USD stock and the simulated chain moves with the
    # date: the user's criteria allow wide spreads and low yields so the test does not depend
    # on the day; roll_dte 60 makes the month-out short put due for a roll.
    criteria = Criteria(max_spread_pct=50.0, min_apy=3.0, roll_dte=60)
    request = ScanRequest(
        symbols=WATCHLIST,
        criteria=criteria,
        positions=positions,
        buying_power=account["buying_power"],
    )
    response, event = asyncio.run(
        _scan_and_event(
            screener.url, nats_server.url, headers, json.loads(request.model_dump_json())
        )
    )
    assert response.status_code == 200, response.text
    result = ScanResult.model_validate(response.json())
    by_kind: dict[str, list] = {}
    for s in result.signals:
        by_kind.setdefault(s.kind, []).append(s)

    # cash-secured puts for the watchlist names that pass the fundamentals
    csp_symbols = {s.symbol for s in by_kind.get("CSP", [])}
    assert len(csp_symbols & {"AAPL", "MSFT", "KO"}) >= 2, csp_symbols
    for s in by_kind["CSP"]:
        assert s.contract.right == "P"
        assert criteria.dte_min <= s.dte <= criteria.dte_max
        assert criteria.delta_min <= s.abs_delta <= criteria.delta_max
        assert s.premium == s.bid  # bid basis
        assert s.collateral == pytest.approx(s.contract.strike * 100)
        assert s.breakeven == pytest.approx(s.contract.strike - s.premium, abs=1e-4)
        assert s.apy == pytest.approx(s.premium / s.contract.strike * 365 / s.dte * 100, abs=0.01)
        assert s.apy >= criteria.min_apy and s.spread_pct <= criteria.max_spread_pct
        assert 50 < s.pop < 100 and s.tier in "ABC" and s.market_data_type == "live"
        assert s.quote_ts is not None

    # covered calls on the 200 KO shares, never below their cost basis
    ccs = by_kind.get("CC", [])
    assert ccs and {s.symbol for s in ccs} == {"KO"}
    for s in ccs:
        assert s.contract.right == "C" and s.contract.strike >= ko["avg_cost"]
        assert s.cost_basis == pytest.approx(ko["avg_cost"])
        expected = (s.premium + s.contract.strike - ko["avg_cost"]) / ko["avg_cost"] * 100
        assert s.if_called_return == pytest.approx(expected, abs=1e-3)
        assert s.breakeven == pytest.approx(ko["avg_cost"] - s.premium, abs=1e-3)

    # a roll for the short AAPL put: later expiry, same or lower strike, for a net credit
    rolls = by_kind.get("ROLL", [])
    assert len(rolls) == 1
    roll = rolls[0]
    assert roll.symbol == "AAPL" and roll.roll_from is not None
    assert roll.roll_from.expiry == date.fromisoformat(short_put["expiry"])
    assert roll.roll_from.strike == short_put["strike"]
    assert roll.contract.expiry > roll.roll_from.expiry
    assert roll.contract.strike <= short_put["strike"]
    assert roll.net_credit is not None and roll.net_credit > 0
    assert "net credit" in roll.reasons[0]

    # the "why not": RIVN fails a fundamental rule, ZZZZ is unknown
    rivn = [r for r in result.rejections if r.symbol == "RIVN"]
    assert rivn and rivn[0].rule in {"min_roe", "positive_fcf", "max_beta"}
    assert "RIVN" not in {s.symbol for s in result.signals if s.kind == "CSP"}
    assert any(r.symbol == "ZZZZ" for r in result.errors)
    # every rejected contract names its rule
    assert all(r.rule and r.message for r in result.rejections)

    # the same scan on NATS
    assert event is not None and event.result.scan_id == result.scan_id
    assert len(event.result.signals) == len(result.signals)


def _scan(screener_url: str, headers: dict, request: ScanRequest) -> ScanResult:
    body = request.model_dump(mode="json")
    response = httpx.post(f"{screener_url}/v1/scans", json=body, headers=headers, timeout=300)
    assert response.status_code == 200, response.text
    return ScanResult.model_validate(response.json())


def test_puts_spanning_earnings_from_wall_street_horizon_are_rejected_or_flagged(stack) -> None:  # type: ignore[no-untyped-def]
    sim, bridge, screener, headers = stack
    # tws-sim's calendar (universe.json): CSCO reports 12 days after its first day (a weekend
    # date moves to Monday); the bridge reads it from Wall Street Horizon
    control = httpx.get(f"{sim.control_url}/state", timeout=30).json()
    today = datetime.fromisoformat(control["sim_time"]).astimezone(NEW_YORK).date()
    info = httpx.get(f"{bridge.url}/v1/stocks/CSCO", headers=headers, timeout=60).json()
    earnings = date.fromisoformat(info["fundamentals"]["next_earnings"])
    assert 12 <= (earnings - today).days <= 14
    assert info["fundamentals"]["next_earnings_note"].startswith("Wall Street Horizon")
    # every expiry in the window comes after the earnings date
    criteria = Criteria(
        dte_min=(earnings - today).days + 1, dte_max=45, max_spread_pct=50.0, min_apy=3.0
    )
    excluded = _scan(screener.url, headers, ScanRequest(symbols=["CSCO"], criteria=criteria))
    assert [s for s in excluded.signals if s.kind == "CSP"] == []
    spanning = [r for r in excluded.rejections if r.rule == "earnings"]
    assert spanning, excluded.rejections
    for r in spanning:
        assert r.message == f"CSP: earnings on {earnings:%Y-%m-%d} come before this expiry"
        assert date.fromisoformat(r.contract.split()[1]) >= earnings  # type: ignore[union-attr]
    # flagged instead: the same contracts are signals that say so
    flag = criteria.model_copy(update={"earnings": "flag"})
    flagged = _scan(screener.url, headers, ScanRequest(symbols=["CSCO"], criteria=flag))
    puts = [s for s in flagged.signals if s.kind == "CSP"]
    assert puts and all(s.earnings_before_expiry for s in puts)
    assert all(
        f"earnings on {earnings:%Y-%m-%d} come before this expiry" in s.reasons for s in puts
    )
    assert all(s.fundamentals.next_earnings == earnings for s in puts)


def test_scan_answers_503_naming_the_bridge_when_it_is_down(stack) -> None:  # type: ignore[no-untyped-def]
    _, bridge, screener, headers = stack
    bridge.stop()
    body = ScanRequest(symbols=["AAPL"]).model_dump(mode="json")
    response = httpx.post(f"{screener.url}/v1/scans", json=body, headers=headers, timeout=60)
    assert response.status_code == 503
    assert response.json()["code"] == "bridge_unavailable"
    assert "gateway-bridge" in response.json()["message"]
