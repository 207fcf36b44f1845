"""Every wheel formula against a case worked by hand (the arithmetic is in the comments)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from screener import filters, pricing, tiers, wheel
from wheeldesk.schemas.market import Fundamentals
from wheeldesk.schemas.screener import Criteria


def test_dte_counts_calendar_days_to_the_new_york_close() -> None:
    # Thu 2026-11-26 15:00 UTC = 10:00 EST (UTC-5). Expiry Fri 2026-12-18.
    now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    assert wheel.dte(date(2026, 12, 18), now) == 22  # Dec 18 - Nov 26 = 22 days
    # exact: to Dec 18 16:00 EST = 21:00 UTC -> 22 days + 6 hours = 22.25 days
    assert wheel.dte_days(date(2026, 12, 18), now) == pytest.approx(22.25, abs=1e-12)
    # in summer the close is 16:00 EDT = 20:00 UTC: from 2026-07-16 20:00 UTC -> exactly 1 day
    assert wheel.dte_days(date(2026, 7, 17), datetime(2026, 7, 16, 20, 0, tzinfo=UTC)) == 1.0
    # on expiry day: 0 DTE before the close, expired (-1) after it
    assert wheel.dte(date(2026, 12, 18), datetime(2026, 12, 18, 20, 59, tzinfo=UTC)) == 0
    assert wheel.dte(date(2026, 12, 18), datetime(2026, 12, 18, 21, 0, tzinfo=UTC)) == -1


def test_cash_secured_put_numbers() -> None:
    # Sell the 50 put, bid 1.20 / ask 1.30, 30 DTE.
    prem = wheel.premium(1.20, 1.30, "bid")
    assert prem == 1.20
    y = wheel.csp_yield(prem, 50.0)
    assert y == pytest.approx(0.024)  # 1.20 / 50 = 0.024 = 2.4 %
    # APY = 0.024 x 365 / 30 x 100 = 0.024 x 12.1666.. x 100 = 29.2 %
    assert wheel.annualise(y, 30) == pytest.approx(29.2)
    assert wheel.csp_collateral(50.0) == 5000.0  # 50 x 100
    assert wheel.csp_breakeven(50.0, prem) == pytest.approx(48.80)  # 50 - 1.20
    # mid basis: (1.20 + 1.30) / 2 = 1.25 -> 1.25 / 50 = 0.025 -> 0.025 x 365/30 x 100 = 30.41666
    mid = wheel.premium(1.20, 1.30, "mid")
    assert mid == pytest.approx(1.25)
    assert wheel.annualise(wheel.csp_yield(mid, 50.0), 30) == pytest.approx(30.416666666)
    # a 0-DTE option annualises over one day, not zero: 0.024 x 365 / 1 x 100 = 876 %
    assert wheel.annualise(y, 0) == pytest.approx(876.0)
    # compounded: (1.024^(365/30) - 1) x 100 = (1.024^12.1667 - 1) x 100 = 33.45 %
    assert wheel.annualise_compounded(y, 30) == pytest.approx(33.449, abs=1e-3)


def test_close_and_roll_numbers() -> None:
    # Buy back a 50 put sold at 1.20 for the ask 0.50: (1.20 - 0.50) / 1.20 = 58.33 %
    assert wheel.captured_pct(1.20, 0.50) == pytest.approx(58.3333, abs=1e-4)
    assert wheel.captured_pct(0.0, 0.50) is None  # nothing received: unknown, not 0
    # 0.50 still to earn over 20 days: 0.025 a share a day; 0 DTE counts as 1 day
    assert wheel.remaining_per_day(0.50, 20) == pytest.approx(0.025)
    assert wheel.remaining_per_day(0.50, 0) == pytest.approx(0.50)
    # roll: new 2.50 - buy-back 1.80 = 0.70 credit; put breakeven 49 - (1.20 + 0.70) = 47.10
    net = wheel.roll_net_credit(2.50, 1.80)
    assert net == pytest.approx(0.70)
    assert wheel.roll_breakeven("P", 49.0, 1.20, net) == pytest.approx(47.10)
    # call on IB's basis 50 (premium not in it): 50 - (1.00 + 0.30) = 48.70;
    # on the ledger's 48.70 (the 1.00 already in it): 48.70 - 0.30 = 48.40
    assert wheel.roll_breakeven("C", 52.0, 1.00, 0.30, basis=50.0) == pytest.approx(48.70)
    assert wheel.roll_breakeven(
        "C", 52.0, 1.00, 0.30, basis=48.70, basis_has_premiums=True
    ) == pytest.approx(48.40)


def test_covered_call_numbers_and_if_called() -> None:
    # 100 shares bought at 55 (cost basis), stock now 60; sell the 62 call for 0.90, 21 DTE.
    basis = wheel.cc_basis(60.0, 55.0)
    assert basis == 55.0  # the cost basis when known
    y = wheel.cc_yield(0.90, basis)
    assert y == pytest.approx(0.0163636363)  # 0.90 / 55
    # APY = 0.90 / 55 x 365 / 21 x 100 = 328.5 / 1155 x 100 = 28.4415584 %
    assert wheel.annualise(y, 21) == pytest.approx(28.4415584415)
    # if called: (0.90 + 62 - 55) / 55 = 7.90 / 55 = 0.143636 = 14.36 %
    assert wheel.if_called_return(0.90, 62.0, 55.0) == pytest.approx(0.1436363636)
    assert wheel.cc_breakeven(55.0, 0.90) == pytest.approx(54.10)  # 55 - 0.90
    # no cost basis known: measured on the price, 0.90 / 60 = 0.015
    assert wheel.cc_yield(0.90, wheel.cc_basis(60.0, None)) == pytest.approx(0.015)


def test_probability_otm_is_n_of_d2() -> None:
    # Short 95 put, S = 100, 30 DTE (T = 30/365 = 0.0821918), sigma 25 %, r = q = 0.
    # ln(100/95) = 0.0512933; sigma^2 T / 2 = 0.0625 x 0.0821918 / 2 = 0.0025685
    # sigma sqrt(T) = 0.25 x 0.2866911 = 0.0716728
    # d2 = (0.0512933 - 0.0025685) / 0.0716728 = 0.679823 -> N(d2) = 0.751692
    pop_put = pricing.prob_otm(False, 100.0, 95.0, 30 / 365, 0.0, 0.0, 0.25)
    assert float(pop_put) == pytest.approx(0.751692, abs=1e-6)
    # the same strike as a short call expires worthless with N(-d2) = 1 - 0.751692 = 0.248308
    pop_call = pricing.prob_otm(True, 100.0, 95.0, 30 / 365, 0.0, 0.0, 0.25)
    assert float(pop_call) == pytest.approx(0.248308, abs=1e-6)


def test_expected_move() -> None:
    # 100 x 0.25 x sqrt(30 / 365) = 25 x 0.2866911 = 7.167277
    assert wheel.expected_move(100.0, 0.25, 30) == pytest.approx(7.167277, abs=1e-6)


def test_iv_rank_and_iv_percentile_differ_after_a_spike() -> None:
    history = [0.20, 0.22, 0.24, 0.26, 0.80]  # one spike to 80 % in the year
    # IV rank = (0.30 - 0.20) / (0.80 - 0.20) x 100 = 0.10 / 0.60 x 100 = 16.67
    assert wheel.iv_rank(0.30, history) == pytest.approx(16.6666667)
    # IV percentile = days below 0.30: 0.20, 0.22, 0.24, 0.26 = 4 of 5 = 80
    assert wheel.iv_percentile(0.30, history) == pytest.approx(80.0)
    assert wheel.iv_rank(0.30, []) is None
    # from a series ending with today: today is not in its own denominator -> 4 / 5 = 80.0,
    # not 4 / 6 = 66.7; the rank spans the range with today: (0.30 - 0.20) / 0.60 = 16.67
    now, rank, pct = wheel.iv_stats([*history, 0.30])
    assert now == 0.30 and rank == pytest.approx(16.6666667) and pct == pytest.approx(80.0)
    assert wheel.iv_stats([]) == (None, None, None)
    assert wheel.iv_rank(0.30, [0.3, 0.3]) is None  # no range: undefined, not 0 or 100


def test_spread_and_distance() -> None:
    # (1.30 - 1.20) / 1.25 x 100 = 8 %
    assert wheel.spread_pct(1.20, 1.30) == pytest.approx(8.0)
    # a 95 put with the stock at 100 is (100 - 95) / 100 = 5 % out of the money
    assert float(wheel.otm_distance_pct(100.0, 95.0, False)) == pytest.approx(5.0)
    # a 95 call is 5 % in the money
    assert float(wheel.otm_distance_pct(100.0, 95.0, True)) == pytest.approx(-5.0)


def test_score_and_tiers() -> None:
    # APY 20 %, POP 80 %, spread 5 %, OI 1,000, ROE 20 %, FCF > 0, beta 1.2:
    #   yield:        35 x min(20 / 40, 1)            = 17.5
    #   safety:       30 x (80 - 50) / 45             = 20.0
    #   spread:       10 x (1 - 5 / 10)               =  5.0
    #   open int.:    10 x log10(1000) / 4 = 10 x 0.75 =  7.5
    #   fundamentals: ROE 5 + FCF 5 + beta (1.2 > 1) 0 = 10.0
    #   total                                          = 60.0 -> tier A (>= 50, `tiers`)
    points = wheel.fundamentals_points(20.0, 1e9, 1.2)
    assert points == 10.0
    total = wheel.score(20.0, 80.0, 5.0, 1000.0, points)
    assert total == pytest.approx(60.0)
    assert tiers.tier(total) == "A"
    # every part in full: 35 + 30 + 10 + 10 + 15 = 100; unknown fundamentals give 2.5 each
    assert wheel.score(45.0, 96.0, 0.0, 20000.0, 15.0) == pytest.approx(100.0)
    assert wheel.fundamentals_points(None, None, None) == 7.5


def test_fundamental_rules_name_the_rule_that_failed() -> None:
    c = Criteria()
    rivn = Fundamentals(beta=2.3, roe=-40.0, free_cash_flow=-5e9, market_cap=15e9)
    assert filters.fundamental_rejection(12.0, rivn, c)[0] == "min_roe"
    assert filters.fundamental_rejection(12.0, rivn, Criteria(min_roe=None))[0] == "positive_fcf"
    no_fcf = Criteria(min_roe=None, require_positive_fcf=False)
    rule, message = filters.fundamental_rejection(12.0, rivn, no_fcf)
    assert rule == "max_beta" and message == "beta 2.30 is above the maximum 1.5"
    assert filters.fundamental_rejection(5.0, rivn, c)[0] == "min_price"
    good = Fundamentals(beta=0.6, roe=40.0, free_cash_flow=9e9, market_cap=260e9)
    assert filters.fundamental_rejection(62.0, good, c) is None


def test_option_rules_report_the_first_failure_in_order() -> None:
    c = Criteria(min_open_interest=100, max_spread_pct=10, min_premium=0.10, min_apy=10)
    n = 5
    cols = filters.OptionColumns(
        dte=np.array([30, 90, 30, 30, 30.0]),  # #1: outside 7–45
        abs_delta=np.array([0.2, 0.2, 0.5, 0.2, 0.2]),  # #2: outside 0.15–0.30
        iv=np.full(n, 0.3),
        iv_rank=np.full(n, np.nan),
        open_interest=np.array([500, 500, 500, 10, 500.0]),  # #3: OI 10 < 100
        spread_pct=np.full(n, 5.0),
        premium=np.full(n, 1.0),
        apy=np.array([25, 25, 25, 25, 4.0]),  # #4: APY 4 < 10
        collateral=np.full(n, 5000.0),
        needs_cash=np.full(n, True),
        below_basis=np.zeros(n, dtype=bool),
        spans_earnings=np.zeros(n, dtype=bool),
    )
    first = filters.first_failures(cols, c, buying_power=100_000)
    names = [filters.OPTION_RULES[i] if i >= 0 else None for i in first]
    assert names == [None, "dte_window", "delta_band", "min_open_interest", "min_apy"]
    assert filters.describe("min_apy", 4, cols, c, None) == "APY 4.0% is below the minimum 10%"
    # not enough buying power for 5,000 of collateral
    first = filters.first_failures(cols, c, buying_power=4000)
    assert filters.OPTION_RULES[first[0]] == "buying_power"


def test_a_missing_number_is_named_not_printed_as_nan() -> None:
    c = Criteria()
    cols = filters.OptionColumns(
        dte=np.array([30.0]),
        abs_delta=np.array([0.2]),
        iv=np.array([0.3]),
        iv_rank=np.array([np.nan]),
        open_interest=np.array([500.0]),
        spread_pct=np.array([np.nan]),  # one-sided quote
        premium=np.array([np.nan]),
        apy=np.array([np.nan]),
        collateral=np.array([5000.0]),
        needs_cash=np.array([True]),
        below_basis=np.array([False]),
        spans_earnings=np.array([False]),
    )
    (first,) = filters.first_failures(cols, c)
    rule = filters.OPTION_RULES[first]
    assert rule == "max_spread_pct"
    assert filters.describe(rule, 0, cols, c, None) == "spread unknown (no two-sided quote)"


def test_a_contract_failing_several_rules_reports_the_first() -> None:
    c = Criteria(min_open_interest=100, max_spread_pct=10, min_premium=0.10, min_apy=10)
    cols = filters.OptionColumns(
        dte=np.array([90, 30, 30, 30.0]),  # #0 also outside 7–45
        abs_delta=np.array([0.2, np.nan, 0.2, 0.2]),  # #1 delta unknown
        iv=np.full(4, 0.3),
        iv_rank=np.full(4, np.nan),
        open_interest=np.array([10, 10, 500, 500.0]),  # #0, #1 OI 10 < 100
        spread_pct=np.array([5, 5, 25, np.nan]),  # #2 25 % > 10 %; #3 one-sided
        premium=np.full(4, 1.0),
        apy=np.array([4, 4, 4, np.nan]),  # #0–#2 APY 4 < 10; #3 unknown
        collateral=np.full(4, 5000.0),
        needs_cash=np.full(4, True),
        below_basis=np.zeros(4, dtype=bool),
        spans_earnings=np.zeros(4, dtype=bool),
    )
    first = filters.first_failures(cols, c, buying_power=1000)  # every one fails this too
    names = [filters.OPTION_RULES[i] for i in first]
    assert names == ["dte_window", "delta_band", "max_spread_pct", "max_spread_pct"]


def test_missing_numbers_score_nothing() -> None:
    # NaN APY, POP and open interest count as 0, a NaN spread as 100 %: only the
    # fundamentals (7.5) are left; an array scores like each of its elements alone.
    assert wheel.score(np.nan, np.nan, np.nan, np.nan, 7.5) == 7.5
    apy = np.array([np.nan, 20.0, 20.0, np.inf])
    pop = np.array([80.0, np.nan, 80.0, 80.0])
    spread = np.array([5.0, 5.0, np.nan, 5.0])
    oi = np.array([1000.0, 1000.0, 1000.0, np.nan])
    totals = wheel.score(apy, pop, spread, oi, 10.0)
    # 17.5 yield, 20 safety, 5 spread, 7.5 open interest, 10 fundamentals (60 in all)
    np.testing.assert_allclose(totals, [42.5, 40.0, 55.0, 70.0])
    assert list(totals) == [wheel.score(*x, 10.0) for x in zip(apy, pop, spread, oi, strict=True)]
