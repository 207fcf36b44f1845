"""CLOSE, ROLL, covered-call basis and missing inputs, each case worked by hand in comments.

Pure functions (`signals.manage_short`, `signals.screen`) at a pinned moment: no clock, no
network. Rate and dividend yield are 0 unless a case says otherwise.
"""

from __future__ import annotations

import pytest
from screener import filters, signals, wheel
from signal_cases import NOW, _ctx, _data, _q, _short
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.market import Fundamentals, Quote
from wheeldesk.schemas.screener import Criteria, SymbolData


def test_close_is_a_buy_back_not_a_sale() -> None:
    # Sold the 50 put at 1.20; 20 DTE, bid 0.45 / ask 0.50.
    held = _q("KO", 20, 50.0, "P", 0.45, 0.50, iv=0.25, delta=-0.20)
    (sig,), rejected = signals.manage_short(
        _short("KO", 20, 50.0, "P", 1.20), [held], _data("KO", 53.0), _ctx()
    )
    assert rejected == [] and sig.kind == "CLOSE"
    # cost to close = the ask 0.50, labelled "ask" (not "(bid)" / "(mid)")
    assert sig.cost_to_close == 0.50 and sig.close_basis == "ask" and sig.premium_basis == "ask"
    assert sig.premium == 0.50 and sig.net_credit == -0.50
    assert sig.premium_received == 1.20
    # captured = (1.20 - 0.50) / 1.20 = 0.70 / 1.20 = 58.33 % (>= 50 %: take the profit)
    assert sig.captured_pct == pytest.approx(58.3)
    # holding on would earn the remaining 0.50 over 20 days = 0.025 a share a day (2.50 USD
    # a contract)
    assert sig.remaining_per_day == pytest.approx(0.025)
    assert "0.0250 a share (2.50 USD a contract) a day" in " ".join(sig.reasons)
    # nothing of a sale: no yield, APY, breakeven, P(profit)
    assert sig.yield_pct is None and sig.apy is None and sig.apy_compounded is None
    assert sig.breakeven is None and sig.prob_profit is None
    # captured 58.33 % >= the default take-profit 50 %: tier A (tiers: a CLOSE scores its capture)
    assert sig.score == pytest.approx(58.33) and sig.tier == "A" and sig.next_tier is None


def test_close_at_the_mid_when_the_criteria_price_at_the_mid() -> None:
    # mid = (0.45 + 0.50) / 2 = 0.475; captured = (1.20 - 0.475) / 1.20 = 60.42 %
    held = _q("KO", 20, 50.0, "P", 0.45, 0.50, iv=0.25, delta=-0.20)
    (sig,), _ = signals.manage_short(
        _short("KO", 20, 50.0, "P", 1.20), [held], _data("KO", 53.0), _ctx(premium_basis="mid")
    )
    assert sig.close_basis == "mid" and sig.cost_to_close == pytest.approx(0.475)
    assert sig.captured_pct == pytest.approx(60.4)


def test_roll_counts_the_buy_back() -> None:
    # Sold the 50 put at 1.20; 5 DTE, stock 49 (in the money), buy back at the ask 1.80.
    # Roll to the 49 put 30 days later (35 DTE), bid 2.50:
    #   net credit = 2.50 - 1.80 = 0.70
    #   yield = 0.70 / 49 = 1.428571 %; APY over the 30 added days (not the 35 DTE):
    #     0.0142857 x 365 / 30 x 100 = 17.38 % simple; (1.0142857^(365/30) - 1) = 18.84 %
    #     compounded (on the gross 2.50 over 35 days it would say 53.2 %)
    #   position breakeven = 49 - (1.20 + 0.70) = 47.10 (the sale alone: 49 - 2.50 = 46.50)
    held = _q("KO", 5, 50.0, "P", 1.70, 1.80, iv=0.25, delta=-0.60)
    new = _q("KO", 35, 49.0, "P", 2.50, 2.60, iv=0.30, delta=-0.45)
    debit = _q("KO", 35, 45.0, "P", 0.80, 0.90, iv=0.30, delta=-0.15)  # 0.80 < 1.80
    (sig,), _ = signals.manage_short(
        _short("KO", 5, 50.0, "P", 1.20), [held, new, debit], _data("KO", 49.0), _ctx()
    )
    assert sig.kind == "ROLL" and sig.contract.strike == 49.0
    assert sig.roll_from is not None and sig.roll_from.strike == 50.0
    assert sig.net_credit == pytest.approx(0.70)
    assert sig.added_days == 30
    assert sig.yield_pct == pytest.approx(1.4286, abs=1e-4)
    assert sig.apy == pytest.approx(17.38, abs=0.005)
    assert sig.apy_compounded == pytest.approx(18.84, abs=0.005)
    assert sig.breakeven == pytest.approx(47.10)
    assert sig.premium_received == 1.20 and sig.cost_to_close == 1.80
    # captured = (1.20 - 1.80) / 1.20 = -50 % (bought back at a loss)
    assert sig.captured_pct == pytest.approx(-50.0)
    # P(profit) is at the position's breakeven 47.10, P(OTM) at the new strike 49
    assert sig.prob_profit is not None and sig.prob_profit > sig.pop
    assert sig.reasons[0].endswith("APY 17.4% simple on the net credit over the 30 days added")
    # the score uses the roll's APY: 35 x 17.38 / 40 is part of it, not 35 x 53.2 / 40
    # fundamentals all good: 15 points
    expected = wheel.score(sig.apy, sig.pop, sig.spread_pct, 2000.0, 15.0)
    assert sig.score == pytest.approx(expected, abs=0.05)


def test_no_credit_roll_becomes_a_close_saying_why() -> None:
    held = _q("KO", 5, 50.0, "P", 1.70, 1.80, iv=0.25, delta=-0.60)
    debit = _q("KO", 35, 45.0, "P", 0.80, 0.90, iv=0.30, delta=-0.15)
    (sig,), _ = signals.manage_short(
        _short("KO", 5, 50.0, "P", 1.20), [held, debit], _data("KO", 49.0), _ctx()
    )
    assert sig.kind == "CLOSE" and sig.cost_to_close == 1.80
    assert sig.reasons[0] == "5 DTE (roll at 7): no later expiry pays a net credit; close instead"
    assert sig.apy is None and sig.breakeven is None


def test_covered_call_uses_the_ledger_basis_and_shows_ibs() -> None:
    # 100 KO assigned at 50 (IB's average cost 50.00); the ledger's premium-adjusted basis
    # is 48.80 (the put sold at 1.20). Stock 49.20. Sell the 49.5 call, bid 0.80, 30 DTE.
    #   IB basis: 49.5 < 50 -> rejected ("strike below basis") although it profits on the wheel
    #   ledger basis: yield 0.80 / 48.80 = 1.6393 %; if called (0.80 + 49.5 - 48.80) / 48.80
    #   = 1.50 / 48.80 = 3.0738 %; breakeven 48.80 - 0.80 = 48.00
    call = _q("KO", 30, 49.5, "C", 0.80, 0.84, iv=0.22, delta=0.28)
    data = _data("KO", 49.20)
    ctx = _ctx(min_apy=1.0)
    ib_only = signals.Basis.of(None, 50.0)
    assert ib_only is not None and ib_only.source == "ib_avg_cost"
    sigs, rejected = signals.screen("CC", data, [call], ctx, basis=ib_only)
    assert sigs == [] and rejected[0].rule == "cc_strike_below_basis"
    basis = signals.Basis.of(48.80, 50.0)
    (sig,), _ = signals.screen("CC", data, [call], ctx, basis=basis)
    assert sig.cost_basis == 48.80 and sig.cost_basis_source == "ledger"
    assert sig.ib_avg_cost == 50.0
    assert sig.yield_pct == pytest.approx(1.6393, abs=1e-4)
    assert sig.if_called_return == pytest.approx(3.0738, abs=1e-4)
    assert sig.breakeven == pytest.approx(48.00)
    assert "if called: 3.1% on the ledger basis 48.80" in sig.reasons


def test_covered_call_on_ib_average_cost_says_so() -> None:
    call = _q("KO", 30, 52.0, "C", 0.50, 0.52, iv=0.22, delta=0.25)
    (sig,), _ = signals.screen(
        "CC", _data("KO", 50.0), [call], _ctx(min_apy=1.0), basis=signals.Basis.of(None, 50.0)
    )
    assert sig.cost_basis == 50.0 and sig.cost_basis_source == "ib_avg_cost"
    assert any(s.startswith("ledger basis unknown: IB's average cost 50.00") for s in sig.skipped)


def test_call_roll_breakeven_on_the_ledger_basis() -> None:
    # Shares at the ledger basis 47.10 (premiums already deducted); short 50 call sold at
    # 1.00, 3 DTE, stock 51 (in the money), ask 1.30. Roll to the 52 call 32 days later,
    # bid 1.60: net credit 1.60 - 1.30 = 0.30.
    #   breakeven = 47.10 - 0.30 = 46.80 (the 1.00 is already in the ledger basis)
    #   if called = (52 - 46.80) / 47.10 = 5.20 / 47.10 = 11.04 %
    #   yield 0.30 / 47.10 = 0.6369 %, over the 32 added days
    held = _q("KO", 3, 50.0, "C", 1.20, 1.30, iv=0.2, delta=0.8)
    new = _q("KO", 35, 52.0, "C", 1.60, 1.65, iv=0.22, delta=0.40)
    (sig,), _ = signals.manage_short(
        _short("KO", 3, 50.0, "C", 1.00),
        [held, new],
        _data("KO", 51.0),
        _ctx(),
        basis=signals.Basis.of(47.10, 50.0),
    )
    assert sig.kind == "ROLL" and sig.net_credit == pytest.approx(0.30)
    assert sig.breakeven == pytest.approx(46.80)
    assert sig.if_called_return == pytest.approx(11.04, abs=0.005)
    assert sig.added_days == 32
    assert sig.yield_pct == pytest.approx(0.6369, abs=1e-4)


def test_p_otm_and_p_profit_are_both_shown_and_differ() -> None:
    # Short 95 put, S = 100, sigma 25 %, r = q = 0, premium (bid) 1.00. At the pinned moment
    # (10:30 ET) the 30-day expiry's 16:00 close is 30.229167 days away: T = 0.0828196,
    # sigma sqrt(T) = 0.0719460, sigma^2 T / 2 = 0.0025881.
    #   P(OTM)    = N(d2 at 95) = N((0.0512933 - 0.0025881) / 0.0719460) = N(0.676969) = 75.08 %
    #   P(profit) = N(d2 at the breakeven 94) = N((0.0618754 - 0.0025881) / 0.0719460)
    #             = N(0.824053) = 79.50 %
    put = _q("KO", 30, 95.0, "P", 1.00, 1.04, iv=0.25, delta=-0.22)
    (sig,), _ = signals.screen("CSP", _data("KO", 100.0), [put], _ctx())
    assert sig.pop == pytest.approx(75.08, abs=0.005)
    assert sig.prob_profit == pytest.approx(79.50, abs=0.005)
    assert sig.breakeven == pytest.approx(94.0)
    # APY (simple) and compounded: 1 / 95 = 1.0526 %; x 365 / 30 = 12.81 %;
    # (1.010526^(365/30) - 1) = e^(0.0104713 x 12.16667) - 1 = 13.59 %
    assert sig.apy == pytest.approx(12.81, abs=0.005)
    assert sig.apy_compounded == pytest.approx(13.59, abs=0.005)
    assert "P(OTM) 75% (expires worthless), P(profit) 80%" in sig.reasons[1]


def test_missing_fundamentals_skip_rules_in_words_never_a_zero() -> None:
    # No tick 258 at all: every company rule is skipped and says why; the symbol is not
    # rejected; the score counts each unknown as half (2.5), never as a failed 0.
    empty = SymbolData(
        symbol="KO", quote=Quote(symbol="KO", last=60.0), fundamentals=Fundamentals()
    )
    c = Criteria()
    assert filters.fundamental_rejection(60.0, empty.fundamentals, c, "KO") is None
    skipped = filters.skipped_fundamentals("KO", empty.fundamentals, c)
    why = "no fundamentals from IB (tick 258 not subscribed or not answered)"
    assert skipped == [
        f"ROE unknown: {why} — rule skipped",
        f"free cash flow unknown: {why} — rule skipped",
        f"beta unknown: {why} — rule skipped",
        f"market cap unknown: {why} — rule skipped",
    ]
    put = _q("KO", 30, 57.0, "P", 0.50, 0.52, iv=0.22, delta=-0.22)
    (sig,), _ = signals.screen("CSP", empty, [put], _ctx())
    assert sig.skipped[:4] == skipped
    # only the ratio IB left out is named when the others came
    partial = Fundamentals(beta=0.6, free_cash_flow=9e9, market_cap=260e9)
    assert filters.skipped_fundamentals("KO", partial, c) == [
        "ROE unknown: IB did not report it — rule skipped"
    ]


def test_missing_fundamentals_say_whether_ib_refused_or_sent_nothing() -> None:
    # The bridge says how IB answered tick 258: a refusal (with IB's code: buy the
    # subscription) reads differently from silence (wait and scan again); both skip the rules.
    c = Criteria()
    refused = Fundamentals(
        status="not_subscribed", ib_code=10358, reason="Fundamentals data is not allowed."
    )
    silent = Fundamentals(status="no_answer", reason="IB sent no tick 258 within 5 s")
    gone = Fundamentals(
        status="not_supported",
        ib_code=321,
        reason="this IB Gateway version no longer provides fundamental ratios (tick 258)",
    )
    for f, why in (
        (
            refused,
            "no fundamentals from IB: not subscribed (IB error 10358: Fundamentals data is "
            "not allowed)",
        ),
        (
            silent,
            "no fundamentals from IB: no answer in time (IB sent no tick 258 within 5 s; "
            "scan again later)",
        ),
        (
            gone,
            "no fundamentals from IB: this IB Gateway version no longer provides fundamental "
            "ratios (tick 258) (IB error 321)",
        ),
    ):
        assert filters.fundamental_rejection(60.0, f, c, "KO") is None
        skipped = filters.skipped_fundamentals("KO", f, c)
        assert skipped[0] == f"ROE unknown: {why} — rule skipped" and len(skipped) == 4
        data = SymbolData(symbol="KO", quote=Quote(symbol="KO", last=60.0), fundamentals=f)
        put = _q("KO", 30, 57.0, "P", 0.50, 0.52, iv=0.22, delta=-0.22)
        (sig,), _ = signals.screen("CSP", data, [put], _ctx())
        assert sig.skipped[:4] == skipped and sig.fundamentals.status == f.status
    # IB answered but left one ratio out: only that one, as before
    partial = Fundamentals(status="ok", beta=0.6, free_cash_flow=9e9, market_cap=260e9)
    assert filters.skipped_fundamentals("KO", partial, c) == [
        "ROE unknown: IB did not report it — rule skipped"
    ]


def test_no_model_greeks_is_said_and_the_model_fills_in() -> None:
    put = _q("KO", 30, 57.0, "P", 0.50, 0.52)  # no IB IV, no IB delta
    (sig,), _ = signals.screen("CSP", _data("KO", 60.0), [put], _ctx(delta_min=0.05))
    assert sig.iv is not None and sig.abs_delta is not None
    assert any(s.startswith("IV and delta unknown from IB (no model greeks)") for s in sig.skipped)


def test_etfs_are_not_judged_on_company_fundamentals() -> None:
    # SPY with IB's fund-level ratios (a negative "ROE", no FCF): not rejected on them.
    spy = Fundamentals(roe=-3.0, free_cash_flow=-1e9, beta=1.0, market_cap=None)
    c = Criteria()
    assert filters.fundamental_rejection(450.0, spy, c, "SPY") is None
    assert filters.fundamental_rejection(450.0, spy, c, "KO")[0] == "min_roe"
    assert filters.skipped_fundamentals("SPY", spy, c) == [
        "SPY is an ETF: not judged on company fundamentals (ROE, free cash flow, market cap)"
        " — rules skipped"
    ]
    # beta still applies to a fund
    assert filters.fundamental_rejection(450.0, Fundamentals(beta=2.0), c, "QQQ")[0] == "max_beta"
    # and the score counts ROE / FCF as unknown (2.5 each) + beta 1.0 <= 1 (5) = 10
    assert wheel.fundamentals_points(-3.0, -1e9, 1.0, etf=True) == 10.0


def test_scan_request_cost_basis_reaches_the_covered_call() -> None:
    # The web sends the ledger's basis per symbol (any case); the shares' IB average cost
    # is 50 (assigned at the strike). As worked above: the 49.5 call passes on the ledger's
    # 48.80 and shows both.
    import asyncio

    from screener.scan import run_scan
    from wheeldesk.schemas.market import Chain
    from wheeldesk.schemas.screener import ScanRequest

    call = _q("KO", 30, 49.5, "C", 0.80, 0.84, iv=0.22, delta=0.28)
    data = _data("KO", 49.20)
    data.chains = [Chain(symbol="KO", underlying=data.quote, expirations=[], options=[call])]
    shares = Position(account_id="DU1", symbol="KO", sec_type="STK", quantity=100, avg_cost=50.0)
    request = ScanRequest(
        symbols=["KO"], criteria=Criteria(min_apy=1.0), positions=[shares], data=[data],
        cost_basis={"ko": 48.80}, now=NOW,
    )  # fmt: skip
    result = asyncio.run(run_scan(request, bridge=None, rate=0.0, now=NOW))
    (cc,) = [s for s in result.signals if s.kind == "CC"]
    assert cc.cost_basis == 48.80 and cc.cost_basis_source == "ledger" and cc.ib_avg_cost == 50.0
    assert cc.breakeven == pytest.approx(48.00)
