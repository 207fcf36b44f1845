"""Table-driven wheel cases, each worked by hand in its comment (issue 16 "Done when").

Pure cycle maths over fixed, hand-written events; no clock is read (dates are literals).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from web_factories import event_time as t
from web_factories import ledger_option as opt
from web_factories import ledger_stock as stk
from wheeldesk_web.ledger.cycles import LedgerEvent, build_cycles


def lot(day, qty, price, sym="X"):
    return LedgerEvent(
        time=t(day, 12), symbol=sym, kind="lot", sec_type="STK", side="BOT",
        quantity=D(qty), price=D(price), ref=f"lot{day}",
    )  # fmt: skip


def dividend(day, amount, sym="X"):
    return LedgerEvent(
        time=t(day), symbol=sym, kind="dividend", sec_type="CASH", amount=D(amount),
        ref=f"div{day}",
    )  # fmt: skip


def opening_short(day, qty, right, strike, expiry, price, sym="X"):
    """An Adjustment 'option' as the ledger reads it: sold before the history, at `price`."""
    return opt(day, "SLD", qty, right, strike, expiry, price, hour=12, sym=sym)


ASSIGN_PUT = lambda day, strike, n=1: [  # noqa: E731 — IB's two legs of an assignment
    opt(day, "BOT", n, "P", strike, day, "0", kind="assignment", hour=21),
    stk(day, "BOT", 100 * n, strike, kind="assignment", hour=21),
]
CALL_AWAY = lambda day, strike, n=1: [  # noqa: E731
    opt(day, "BOT", n, "C", strike, day, "0", kind="assignment", hour=21),
    stk(day, "SLD", 100 * n, strike, kind="assignment", hour=21),
]


def roll_180_to_175(first: str) -> list[LedgerEvent]:
    """180P sold @2.00 on Jan 2; on Jan 14 bought back @1.00 and a 175P sold @2.50, the `first`
    leg ("BOT" or "SLD") a minute before the other; the 175P expires on Feb 20."""
    legs = {"BOT": (180, "2026-01-16", "1.00"), "SLD": (175, "2026-02-20", "2.50")}
    second = "SLD" if first == "BOT" else "BOT"
    return [
        opt("2026-01-02", "SLD", 1, "P", 180, "2026-01-16", "2.00", fee="1"),
        opt("2026-01-14", first, 1, "P", *legs[first], fee="1"),
        opt("2026-01-14", second, 1, "P", *legs[second], fee="1", m=1),
        opt("2026-02-20", "BOT", 1, "P", 175, "2026-02-20", "0", kind="expiration", hour=21),
    ]


# name → (events, expected of the *last* cycle, number of cycles)
CASES = {
    # Textbook wheel: put 50 @1.20, assigned, calls 52 @0.80 (expired) and @0.90 (called away);
    # premium 120 + 80 + 90 = 290; basis 50 − 2.90 = 47.10;
    # P&L 290 + 5,200 − 5,000 − 3 × 1.05 = 486.85; days Mar 2 → May 15 = 74.
    "textbook wheel": (
        [
            opt("2026-03-02", "SLD", 1, "P", 50, "2026-03-20", "1.20", fee="1.05"),
            *ASSIGN_PUT("2026-03-20", 50),
            opt("2026-03-23", "SLD", 1, "C", 52, "2026-04-17", "0.80", fee="1.05"),
            opt("2026-04-17", "BOT", 1, "C", 52, "2026-04-17", "0", kind="expiration", hour=21),
            opt("2026-04-20", "SLD", 1, "C", 52, "2026-05-15", "0.90", fee="1.05"),
            *CALL_AWAY("2026-05-15", 52),
        ],
        dict(
            state="closed", outcome="called_away", premium=D("290"), basis=D("47.10"),
            pnl=D("486.85"), rolls=0, days=74,
        ),
        1,
    ),
    # Roll, buy-back leg first: 180P @2.00, bought back @1.00, 175P sold @2.50 a minute later,
    # expires. Premium 200 − 100 + 250 = 350; fees 3; P&L 347; one roll; collateral at most
    # 180 × 100 = 18,000 (the old put was closed before the new one opened).
    "roll, buy-back first": (
        roll_180_to_175(first="BOT"),
        dict(state="closed", outcome="expired", premium=D("350"), pnl=D("347"), rolls=1,
             capital=D("18000")),
        1,
    ),
    # Roll, new leg reported first (issue 16.10: counted 0 rolls): the same numbers, one roll;
    # for a minute both puts were open: collateral 18,000 + 17,500 = 35,500.
    "roll, sell leg first": (
        roll_180_to_175(first="SLD"),
        dict(state="closed", outcome="expired", premium=D("350"), pnl=D("347"), rolls=1,
             capital=D("35500")),
        1,
    ),
    # Partial fills: 3 × 60P as 1 @1.10 (fee 0.65) + 2 @1.12 (fee 1.30), expire.
    # Premium 110 + 224 = 334; P&L 334 − 1.95 = 332.05; collateral 3 × 6,000 = 18,000.
    "partial fills": (
        [
            opt("2026-06-01", "SLD", 1, "P", 60, "2026-06-19", "1.10", fee="0.65"),
            opt("2026-06-01", "SLD", 2, "P", 60, "2026-06-19", "1.12", fee="1.30", m=1),
            opt("2026-06-19", "BOT", 3, "P", 60, "2026-06-19", "0", kind="expiration", hour=21),
        ],
        dict(state="closed", outcome="expired", premium=D("334"), pnl=D("332.05"),
             capital=D("18000")),
        1,
    ),
    # Buy-back at a loss: 150P sold @2.00, bought back @3.50, nothing sold that day.
    # Premium 200 − 350 = −150; P&L −150 − 2.10 = −152.10.
    "buy-back at a loss": (
        [
            opt("2026-01-02", "SLD", 1, "P", 150, "2026-02-20", "2.00", fee="1.05"),
            opt("2026-01-20", "BOT", 1, "P", 150, "2026-02-20", "3.50", fee="1.05"),
        ],
        dict(state="closed", outcome="bought_back", premium=D("-150"), pnl=D("-152.10")),
        1,
    ),
    # Dividends: 40P @1.00 assigned, 50 dividend, a 42C @0.50 expires, and the same day the
    # shares are sold at market at 41.20 — "sold", not "called_away" (issue 16.10).
    # Basis 40 − (100 + 50 + 50) / 100 = 38.00; P&L 150 + 50 + 4,120 − 4,000 = 320.
    "dividend, then a market sale the day a call expired": (
        [
            opt("2026-01-05", "SLD", 1, "P", 40, "2026-01-16", "1.00"),
            *ASSIGN_PUT("2026-01-16", 40),
            dividend("2026-02-01", "50"),
            opt("2026-02-02", "SLD", 1, "C", 42, "2026-03-20", "0.50"),
            opt("2026-03-20", "BOT", 1, "C", 42, "2026-03-20", "0", hour=20),
            stk("2026-03-20", "SLD", 100, "41.20", hour=20, m=30),
        ],
        dict(state="closed", outcome="sold", premium=D("150"), basis=D("38.00"),
             pnl=D("320"), dividends=D("50")),
        1,
    ),
    # Two lots assigned, one called away, the rest sold at market:
    # puts 12 @0.30 and @0.25 both assigned (200 shares), a 13C @0.20 called away (100),
    # 100 sold at 12.50. Basis 12 − (30 + 25 + 20) / 200 = 11.625;
    # P&L 75 + 1,300 + 1,250 − 2,400 = 225; the last disposal was a sale → "sold".
    "two lots assigned, one called away": (
        [
            opt("2026-01-05", "SLD", 1, "P", 12, "2026-01-16", "0.30"),
            *ASSIGN_PUT("2026-01-16", 12),
            opt("2026-01-20", "SLD", 1, "P", 12, "2026-02-20", "0.25"),
            *ASSIGN_PUT("2026-02-20", 12),
            opt("2026-02-23", "SLD", 1, "C", 13, "2026-03-20", "0.20"),
            *CALL_AWAY("2026-03-20", 13),
            stk("2026-04-01", "SLD", 100, "12.50"),
        ],
        dict(state="closed", outcome="sold", premium=D("75"), basis=D("11.625"),
             pnl=D("225")),
        1,
    ),
    # Shares held before the history, no opening lot: a 52C @0.80 called away. The whole
    # sale (5,200) used to be "profit"; now basis and P&L are unknown.
    "pre-history shares, no opening lot": (
        [
            opt("2026-03-23", "SLD", 1, "C", 52, "2026-05-15", "0.80"),
            *CALL_AWAY("2026-05-15", 52),
        ],
        dict(state="closed", outcome="called_away", premium=D("80"), basis=None, pnl=None,
             basis_unknown=True),
        1,
    ),
    # The same reported without codes (call closed at 0, shares delivered at 52): the same.
    "pre-history shares, no opening lot, no codes": (
        [
            opt("2026-03-23", "SLD", 1, "C", 52, "2026-05-15", "0.80"),
            opt("2026-05-15", "BOT", 1, "C", 52, "2026-05-15", "0", hour=21),
            stk("2026-05-15", "SLD", 100, "52", hour=21),
        ],
        dict(state="closed", outcome="called_away", premium=D("80"), basis=None, pnl=None,
             basis_unknown=True),
        1,
    ),
    # The same with the opening lot (100 @ 50): basis 50 − 0.80 = 49.20;
    # P&L 80 + 5,200 − 5,000 = 280.
    "pre-history shares, with opening lot": (
        [
            lot("2026-03-01", 100, "50"),
            opt("2026-03-23", "SLD", 1, "C", 52, "2026-05-15", "0.80"),
            *CALL_AWAY("2026-05-15", 52),
        ],
        dict(state="closed", outcome="called_away", premium=D("80"), basis=D("49.20"),
             pnl=D("280"), basis_unknown=False),
        1,
    ),
    # A short put sold before the history, bought back @1.50: its premium is unknown, so is
    # the P&L (not a loss of 150 invented from nothing).
    "pre-history short put bought back, no opening lot": (
        [opt("2026-06-01", "BOT", 1, "P", 200, "2026-06-19", "1.50")],
        dict(state="closed", outcome="bought_back", pnl=None, basis_unknown=True),
        1,
    ),
    # With the opening short (sold @3.00): premium 300 − 150 = 150 = P&L.
    "pre-history short put bought back, with opening lot": (
        [
            opening_short("2026-05-01", 1, "P", 200, "2026-06-19", "3.00"),
            opt("2026-06-01", "BOT", 1, "P", 200, "2026-06-19", "1.50"),
        ],
        dict(state="closed", outcome="bought_back", premium=D("150"), pnl=D("150"),
             basis_unknown=False),
        1,
    ),
    # A short put from before the history assigned, no opening lot: the put leg moves no money,
    # the 100 shares at 200 open the cycle; a call 205 @2.00 sold → basis 200 − 2 = 198.
    "pre-history short put assigned": (
        [
            *ASSIGN_PUT("2026-06-19", 200),
            opt("2026-06-22", "SLD", 1, "C", 205, "2026-07-17", "2.00"),
        ],
        dict(state="covered_call", premium=D("200"), basis=D("198"), pnl=None),
        1,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_wheel_case(name):
    events, expected, n = CASES[name]
    cycles = build_cycles(events)
    assert len(cycles) == n
    c = cycles[-1]
    got = {
        "state": c.state,
        "outcome": c.outcome,
        "premium": c.premium,
        "basis": c.adjusted_cost_basis,
        "pnl": c.realised_pnl,
        "rolls": c.rolls,
        "capital": c.capital,
        "days": c.days(),
        "dividends": c.dividends,
        "basis_unknown": c.basis_unknown,
    }
    assert {k: got[k] for k in expected} == expected
    if c.basis_unknown:
        assert c.state_label.endswith("(basis unknown)")


@pytest.mark.parametrize("order", ["as listed", "reversed within the second"])
def test_roll_either_leg_first_in_the_same_second(order):
    # A combo roll: both legs in the same second. Whatever order they are reported in,
    # one roll and premium 200 − 100 + 250 = 350.
    legs = [
        opt("2026-01-14", "BOT", 1, "P", 180, "2026-01-16", "1.00"),
        opt("2026-01-14", "SLD", 1, "P", 175, "2026-02-20", "2.50"),
    ]
    if order != "as listed":
        legs.reverse()
    events = [opt("2026-01-02", "SLD", 1, "P", 180, "2026-01-16", "2.00"), *legs]
    [c] = build_cycles(events)
    assert (c.rolls, c.premium, c.state) == (1, D("350"), "short_put")
