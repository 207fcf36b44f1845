"""Wheel-cycle maths against hand-computed cycles (arithmetic in the comments)."""

from decimal import Decimal as D
from typing import Any

import pytest
from web_factories import event_time as t
from web_factories import ledger_option, ledger_stock
from wheeldesk_web.ledger.cycles import LedgerEvent, build_cycles, monthly_premium, summarise


def opt(day: str, symbol: str, *contract: Any, **kw: Any) -> LedgerEvent:
    """`ledger_option` with the ticker second, as this file's cases write it."""
    return ledger_option(day, *contract, sym=symbol, **kw)


def stk(day: str, symbol: str, *trade: Any, **kw: Any) -> LedgerEvent:
    """`ledger_stock` with the ticker second."""
    return ledger_stock(day, *trade, sym=symbol, **kw)


def test_put_expired_worthless():
    events = [
        opt("2025-12-17", "KO", "SLD", 1, "P", 60, "2026-01-16", "1.20", fee="1.05"),
        opt("2026-01-16", "KO", "BOT", 1, "P", 60, "2026-01-16", "0", kind="expiration", hour=21),
    ]
    [c] = build_cycles(events)
    # premium: 1.20 × 1 × 100 = 120.00; fees 1.05; P&L = 120.00 − 1.05 = 118.95
    assert c.premium == D("120.00")
    assert c.fees == D("1.05")
    assert c.closed and c.outcome == "expired"
    assert c.realised_pnl == D("118.95")
    # capital = 60 × 100 = 6,000; days Dec 17 → Jan 16 = 30
    assert c.capital == D("6000")
    assert c.days() == 30
    # annualised = 118.95 / 6000 × 365 / 30 × 100 = 24.1204…%
    assert float(c.annualised_return) == pytest.approx(24.1204, abs=1e-4)
    assert c.adjusted_cost_basis is None  # never assigned


def test_put_rolled_for_credit_then_assigned():
    events = [
        opt("2026-01-02", "AAPL", "SLD", 1, "P", 180, "2026-01-16", "2.00", fee="1"),
        # roll on Jan 14: buy back at 1.00, sell the Feb 175P at 2.50 (net credit 1.50)
        opt("2026-01-14", "AAPL", "BOT", 1, "P", 180, "2026-01-16", "1.00", fee="1"),
        opt("2026-01-14", "AAPL", "SLD", 1, "P", 175, "2026-02-20", "2.50", fee="1", hour=16),
        # assignment reported by IB as two fills: the option leg first, then the stock
        opt(
            "2026-02-20", "AAPL", "BOT", 1, "P", 175, "2026-02-20", "0", kind="assignment", hour=22
        ),
        stk("2026-02-20", "AAPL", "BOT", 100, "175", kind="assignment", hour=22),
    ]
    [c] = build_cycles(events)
    # net premium = 200 − 100 + 250 = 350 → 3.50 per share
    assert c.premium == D("350.00")
    assert c.rolls == 1
    assert c.assigned and not c.closed
    assert c.state == "shares"
    assert c.shares == 100
    # adjusted cost basis = 175 − 350 / 100 = 171.50
    assert c.assignment_price == D("175")
    assert c.adjusted_cost_basis == D("171.50")
    assert c.fees == D("3")
    # most collateral at once: 180 × 100 = 18,000 (the roll bought back before selling)
    assert c.capital == D("18000")
    assert c.realised_pnl is None


def test_calls_sold_twice_then_called_away():
    events = [
        opt("2026-03-02", "T", "SLD", 1, "P", 50, "2026-03-20", "1.50", fee="1"),
        opt("2026-03-20", "T", "BOT", 1, "P", 50, "2026-03-20", "0", kind="assignment", hour=22),
        stk("2026-03-20", "T", "BOT", 100, "50", kind="assignment", hour=22),
        opt("2026-03-23", "T", "SLD", 1, "C", 52, "2026-04-17", "0.80", fee="1"),
        opt("2026-04-17", "T", "BOT", 1, "C", 52, "2026-04-17", "0", kind="expiration", hour=22),
        opt("2026-04-20", "T", "SLD", 1, "C", 52, "2026-05-15", "0.60", fee="1"),
        opt("2026-05-15", "T", "BOT", 1, "C", 52, "2026-05-15", "0", kind="assignment", hour=22),
        stk("2026-05-15", "T", "SLD", 100, "52", kind="assignment", hour=22),
    ]
    [c] = build_cycles(events)
    # net premium = 150 (put) + 80 + 60 (calls) = 290; basis = 50 − 290/100 = 47.10
    assert c.put_premium == D("150.00")
    assert c.call_premium == D("140.00")
    assert c.adjusted_cost_basis == D("47.10")
    assert c.closed and c.outcome == "called_away"
    # P&L = 290 + 100 × 52 − 100 × 50 − 3 fees = 487
    assert c.realised_pnl == D("487.00")
    # days Mar 2 → May 15 = 74; annualised = 487 / 5000 × 365 / 74 × 100 = 48.0419…%
    assert c.days() == 74
    assert float(c.annualised_return) == pytest.approx(48.0419, abs=1e-4)


def test_cycle_with_dividend_then_shares_sold():
    events = [
        opt("2026-01-05", "KO", "SLD", 1, "P", 40, "2026-01-16", "1.00"),
        stk("2026-01-16", "KO", "BOT", 100, "40", kind="assignment", hour=21),
        opt("2026-01-16", "KO", "BOT", 1, "P", 40, "2026-01-16", "0", kind="assignment", hour=21),
        LedgerEvent(
            time=t("2026-02-01"),
            symbol="KO",
            kind="dividend",
            sec_type="CASH",
            amount=D("50.00"),
            note="0.50/share × 100",
        ),
        stk("2026-02-10", "KO", "SLD", 100, "41"),
    ]
    [c] = build_cycles(events)
    # basis = 40 − (100 premium + 50 dividend) / 100 = 38.50
    assert c.adjusted_cost_basis == D("38.50")
    assert c.dividends == D("50.00")
    assert c.closed and c.outcome == "sold"
    # P&L = 100 + 50 + 4,100 − 4,000 = 250
    assert c.realised_pnl == D("250.00")


def test_buyback_without_same_day_sale_closes_the_cycle():
    events = [
        opt("2026-01-02", "PEP", "SLD", 1, "P", 150, "2026-02-20", "3.00"),
        opt("2026-01-20", "PEP", "BOT", 1, "P", 150, "2026-02-20", "1.00"),  # 50%+ profit taken
        opt("2026-01-22", "PEP", "SLD", 1, "P", 145, "2026-02-20", "2.00"),
    ]
    first, second = build_cycles(events)
    # first: 300 − 100 = 200, closed by the buy-back; second open with 200 so far
    assert first.closed and first.outcome == "bought_back" and first.realised_pnl == D("200.00")
    assert not second.closed and second.premium == D("200.00") and second.state == "short_put"


def test_summary_and_monthly_premium():
    events = [
        opt("2025-12-17", "KO", "SLD", 1, "P", 60, "2026-01-16", "1.20"),
        opt("2026-01-16", "KO", "BOT", 1, "P", 60, "2026-01-16", "0", kind="expiration", hour=21),
        opt("2026-01-20", "KO", "SLD", 2, "P", 58, "2026-02-20", "0.90"),
    ]
    [ko] = summarise(build_cycles(events))
    assert (ko.cycles, ko.open_cycles) == (2, 1)
    assert ko.premium == D("300.00")  # 120 + 2 × 0.90 × 100
    assert monthly_premium(events) == {"2025-12": D("120.00"), "2026-01": D("180.00")}


def test_unlabelled_two_leg_assignment_still_continues_the_cycle():
    # some reports carry no assignment code: option closed at 0, shares bought at the strike
    events = [
        opt("2026-01-05", "F", "SLD", 2, "P", 12, "2026-01-16", "0.30"),
        opt("2026-01-16", "F", "BOT", 2, "P", 12, "2026-01-16", "0", hour=21),
        stk("2026-01-16", "F", "BOT", 200, "12", hour=21),
    ]
    [c] = build_cycles(events)
    # basis = 12 − 60 / 200 = 11.70
    assert c.state == "shares" and c.adjusted_cost_basis == D("11.70")


def test_unlabelled_expiry_and_call_away_read_from_the_fills():
    events = [
        # an OTM put closed at 0 at expiry without a code: expired, not bought back
        opt("2026-01-05", "VZ", "SLD", 1, "P", 38, "2026-01-16", "0.40"),
        opt("2026-01-16", "VZ", "BOT", 1, "P", 38, "2026-01-16", "0", hour=21),
        # then a put assigned, a call sold and called away — no codes on any leg
        opt("2026-01-20", "VZ", "SLD", 1, "P", 38, "2026-02-20", "0.50"),
        opt("2026-02-20", "VZ", "BOT", 1, "P", 38, "2026-02-20", "0", hour=21),
        stk("2026-02-20", "VZ", "BOT", 100, "38", hour=21),
        opt("2026-02-23", "VZ", "SLD", 1, "C", 39, "2026-03-20", "0.45"),
        opt("2026-03-20", "VZ", "BOT", 1, "C", 39, "2026-03-20", "0", hour=21),
        stk("2026-03-20", "VZ", "SLD", 100, "39", hour=21),
    ]
    first, second = build_cycles(events)
    assert first.outcome == "expired" and first.realised_pnl == D("40.00")
    # basis = 38 − (50 + 45) / 100 = 37.05; P&L = 95 + 100 × (39 − 38) = 195
    assert second.assigned and second.outcome == "called_away"
    assert second.adjusted_cost_basis == D("37.05") and second.realised_pnl == D("195.00")


def test_options_held_before_the_ledger_settle_without_a_phantom_cycle():
    """Found by the soak: tws-sim's account starts with a short AAPL put the ledger never saw
    sold. Its expiry (bought back at 0) opened a cycle "Short put open" that never closed;
    its assignment opened one at 0 premium. Now the settling leg opens nothing."""
    expired = [
        opt("2026-12-18", "AAPL", "BOT", 1, "P", "217.5", "2026-12-18", "0", kind="expiration"),
    ]
    assert build_cycles(expired) == []
    unlabelled = [opt("2026-12-18", "AAPL", "BOT", 1, "P", "217.5", "2026-12-18", "0", hour=21)]
    assert build_cycles(unlabelled) == []
    assigned = [
        opt("2026-12-18", "AAPL", "BOT", 1, "P", "217.5", "2026-12-18", "0", kind="assignment"),
        stk("2026-12-18", "AAPL", "BOT", 100, "217.5", kind="assignment"),
        opt("2026-12-21", "AAPL", "SLD", 1, "C", "220", "2027-01-15", "2.10"),
    ]
    [c] = build_cycles(assigned)
    assert c.state == "covered_call" and c.shares == D(100) and c.assigned
    # basis = 217.50 − 210 / 100 = 215.40: the put's premium was never the ledger's to count
    assert c.premium == D("210.00") and c.adjusted_cost_basis == D("215.40")
    # A put the ledger did see sold still closes its own cycle when it expires.
    seen = [
        opt("2026-12-01", "AAPL", "SLD", 1, "P", "210", "2026-12-18", "1.50"),
        *expired,
        opt("2026-12-18", "AAPL", "BOT", 1, "P", "210", "2026-12-18", "0", kind="expiration"),
    ]
    [own] = build_cycles(seen)
    assert own.closed and own.outcome == "expired" and own.premium == D("150.00")
