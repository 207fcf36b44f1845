"""Signals that know what the account holds, each case worked by hand in comments.

Covered calls only for the uncovered lots (shares // 100 - short calls held), no put already
short proposed again, a put's collateral within the cash-secured capacity, and the covered
calls' own DTE window / delta band / minimum APY. The whole scan pipeline (`run_scan` on
inline data) at the harness's pinned moment: no clock, no network. Rate 0.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from screener.scan import run_scan
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.market import Chain, Fundamentals, OptionContract, OptionQuote, Quote
from wheeldesk.schemas.screener import Criteria, ScanRequest, ScanResult, SymbolData

# Wed 2026-06-17 10:30 ET (EDT, UTC-4): the harness's pinned simulated start.
NOW = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)
TODAY = date(2026, 6, 17)


def _q(symbol: str, days: int, strike: float, right: str, bid: float, ask: float, delta: float):  # type: ignore[no-untyped-def]
    return OptionQuote(
        contract=OptionContract(
            symbol=symbol, expiry=TODAY + timedelta(days=days), strike=strike, right=right
        ),
        bid=bid,
        ask=ask,
        iv=0.22,
        delta=delta,
        open_interest=2000,
        volume=100,
    )


def _data(symbol: str, price: float, quotes: list[OptionQuote]) -> SymbolData:
    quote = Quote(symbol=symbol, bid=price - 0.01, ask=price + 0.01, last=price)
    return SymbolData(
        symbol=symbol,
        quote=quote,
        fundamentals=Fundamentals(beta=0.6, roe=40.0, free_cash_flow=9e9, market_cap=260e9),
        chains=[Chain(symbol=symbol, underlying=quote, expirations=[], options=quotes)],
    )


def _shares(symbol: str, n: int, avg: float) -> Position:
    return Position(account_id="DU1", symbol=symbol, sec_type="STK", quantity=n, avg_cost=avg)


def _short(symbol: str, days: int, strike: float, right: str, n: int, sold_at: float) -> Position:
    return Position(
        account_id="DU1",
        symbol=symbol,
        sec_type="OPT",
        quantity=-n,
        avg_cost=sold_at * 100,
        expiry=TODAY + timedelta(days=days),
        strike=strike,
        right=right,
        multiplier=100,
    )


# KO at 49.20, 30 DTE:
#   52 call, bid 0.50 / ask 0.54: yield on the 48.00 basis 0.50 / 48 = 1.0417 %, APY
#     1.0417 x 365 / 30 = 12.67 % (>= 10); spread 0.04 / 0.52 = 7.7 % (<= 10); |delta| 0.22
#   47.5 put, bid 0.60 / ask 0.64: yield 0.60 / 47.5 = 1.2632 %, APY 15.37 %; spread 6.5 %;
#     |delta| 0.25; collateral 47.5 x 100 = 4,750 USD
CALL = _q("KO", 30, 52.0, "C", 0.50, 0.54, 0.22)
PUT = _q("KO", 30, 47.5, "P", 0.60, 0.64, -0.25)
# the held short call's own quote (55 call, 30 DTE): 0.20 / 0.22, sold at 0.30 -> 27 %
# captured, 30 DTE: a hold, no CLOSE or ROLL
HELD_CALL = _q("KO", 30, 55.0, "C", 0.20, 0.22, 0.08)


def _scan(positions: list[Position], quotes: list[OptionQuote], **kw) -> ScanResult:  # type: ignore[no-untyped-def]
    criteria = kw.pop("criteria", Criteria())
    request = ScanRequest(
        symbols=["KO"],
        criteria=criteria,
        positions=positions,
        data=[_data("KO", 49.20, quotes)],
        cost_basis={"KO": 48.00},
        now=NOW,
        **kw,
    )
    return asyncio.run(run_scan(request, bridge=None, rate=0.0, now=NOW))


def _kinds(result: ScanResult, kind: str):  # type: ignore[no-untyped-def]
    return [s for s in result.signals if s.kind == kind]


def test_200_shares_covered_by_2_short_calls_propose_no_covered_call() -> None:
    # 200 shares // 100 = 2 lots; 2 calls short -> 0 uncovered: a third call would be naked
    result = _scan(
        [_shares("KO", 200, 48.0), _short("KO", 30, 55.0, "C", 2, 0.30)], [CALL, PUT, HELD_CALL]
    )
    assert _kinds(result, "CC") == []
    (covered,) = [r for r in result.rejections if r.rule == "covered"]
    assert covered.message == (
        "CC: all 200 shares are covered by the 2 short calls held: no new covered call"
    )
    # the put is unaffected
    assert [s.contract.strike for s in _kinds(result, "CSP")] == [47.5]


def test_200_shares_with_1_short_call_propose_a_call_for_1_contract() -> None:
    # 2 lots - 1 call short = 1 uncovered lot
    result = _scan(
        [_shares("KO", 200, 48.0), _short("KO", 30, 55.0, "C", 1, 0.30)], [CALL, PUT, HELD_CALL]
    )
    (cc,) = _kinds(result, "CC")
    assert cc.contract.strike == 52.0 and cc.quantity == 1
    assert cc.apy == pytest.approx(12.67, abs=0.005)
    assert "for 1 contract: 200 shares, 1 lot(s) already covered by short calls" in cc.reasons


def test_350_shares_uncovered_carry_3_contracts() -> None:
    # 350 // 100 = 3 lots, no call short: the 50 odd shares carry none
    (cc,) = _kinds(_scan([_shares("KO", 350, 48.0)], [CALL, PUT]), "CC")
    assert cc.quantity == 3


def test_a_put_already_short_is_not_proposed_again() -> None:
    # The 47.5 put is already short (sold at 0.90; now 0.60/0.64: 29 % captured, 30 DTE:
    # hold). The 45 put (bid 0.35 / 0.38, APY 0.35 / 45 x 365 / 30 = 9.46 %, below 10 %)
    # is only offered at a minimum APY of 9.
    other = _q("KO", 30, 45.0, "P", 0.35, 0.38, -0.16)
    held = [_short("KO", 30, 47.5, "P", 1, 0.90)]
    result = _scan(held, [PUT, other], criteria=Criteria(min_apy=9.0))
    assert [s.contract.strike for s in _kinds(result, "CSP")] == [45.0]
    (already,) = [r for r in result.rejections if r.rule == "already_short"]
    assert already.contract == PUT.contract.key
    assert "already short in the account" in already.message


def test_a_put_must_fit_the_cash_secured_capacity() -> None:
    # The 47.5 put needs 4,750 USD of cash. Capacity 4,749.99: rejected, saying so, even
    # with a margin buying power of 1,000,000; capacity 4,750: proposed.
    poor = _scan([], [PUT], buying_power=1_000_000.0, cash_capacity=4749.99)
    assert _kinds(poor, "CSP") == []
    (r,) = [r for r in poor.rejections if r.rule == "cash_capacity"]
    assert r.message == (
        "CSP: collateral 4,750 USD exceeds the cash-secured capacity 4,750 "
        "(cash less the puts already short or working)"
    )
    (csp,) = _kinds(_scan([], [PUT], cash_capacity=4750.0), "CSP")
    assert csp.collateral == 4750.0 and csp.quantity == 1


def test_covered_calls_have_their_own_delta_window_and_apy() -> None:
    # The calls' band 0.25-0.40 rejects the 52 call (|delta| 0.22) while the puts keep the
    # shared 0.15-0.30 (the 47.5 put, 0.25, passes). A 50.5 call, |delta| 0.35, bid 0.95:
    # yield 0.95 / 48 = 1.979 %, APY 24.08 %: passes its own minimum APY of 20.
    near = _q("KO", 30, 50.5, "C", 0.95, 1.01, 0.35)
    criteria = Criteria(cc_delta_min=0.25, cc_delta_max=0.40, cc_min_apy=20.0)
    result = _scan([_shares("KO", 100, 48.0)], [CALL, near, PUT], criteria=criteria)
    assert [s.contract.strike for s in _kinds(result, "CC")] == [50.5]
    assert _kinds(result, "CC")[0].apy == pytest.approx(24.08, abs=0.005)
    assert [s.contract.strike for s in _kinds(result, "CSP")] == [47.5]
    (band,) = [r for r in result.rejections if r.contract == CALL.contract.key]
    assert band.rule == "delta_band" and band.message == "CC: |delta| 0.22 is outside 0.25–0.4"
    # the calls' APY minimum is their own: 24.08 % would fail a put minimum of 30 only
    strict = Criteria(min_apy=30.0, cc_delta_min=0.25, cc_delta_max=0.40, cc_min_apy=20.0)
    again = _scan([_shares("KO", 100, 48.0)], [near, PUT], criteria=strict)
    assert [s.kind for s in again.signals] == ["CC"]


def test_covered_call_window_must_be_a_window() -> None:
    with pytest.raises(ValueError, match="covered calls' minimum DTE"):
        Criteria(cc_dte_min=40, cc_dte_max=20)
    # a one-sided override past the shared other end widens it
    assert Criteria(cc_dte_min=60).for_kind("CC").dte_max == 60
    assert Criteria(cc_dte_min=60).for_kind("CSP").dte_min == 7
