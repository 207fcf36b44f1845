"""Tiers: the score's bands, calibrated on the default criteria, and how far a signal is from
the next one.

The rule
--------
The score (0–100, `wheel.score`) adds yield 35 x min(APY / 40 %, 1), safety
30 x clip((P(OTM) - 50) / 45, 0, 1), spread 10 x clip(1 - spread % / 10 %, 0, 1), open interest
10 x clip(log10(OI) / 4, 0, 1) and fundamentals 0–15. Its caps are set for the best trades the
market offers, so the tiers are placed where the DEFAULT criteria's trades land:

- **Tier A >= 50**: the score of a good trade under the default criteria, rounded down — a
  30-DTE 0.25-delta put (P(OTM) 73 % at 25 % IV), paying 15 % APY (1.5 x the default minimum
  of 10 %), a 5 % spread (half the default maximum of 10 %), 1,000 contracts open (10 x the
  default minimum of 100), on a stock earning two of the three fundamentals points (10):
  13.125 + 15.333 + 5 + 7.5 + 10 = 50.96.
- **Tier B >= 30**: a trade only just inside every default rule, rounded down — a 0.30-delta
  put (P(OTM) 67 %), 10 % APY, a 10 % spread, 100 open, one fundamentals point (5):
  8.75 + 11.333 + 0 + 5 + 5 = 30.08.
- **Tier C**: below that: a trade the default criteria would not pass on every count.

A CLOSE scores the premium captured %, so a buy-back at the default take-profit (50 %) is A;
a ROLL scores like a sale with the APY of its net credit over the days it adds.

How far from the next tier: the points short of its threshold, and which single number would
close the gap with the others unchanged (APY up, P(OTM) up, the spread down; for a CLOSE, the
premium captured) — each only where its capped part of the score still has room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from wheeldesk.schemas.screener import Signal, Tier

from screener import wheel

TIER_A = 50.0
TIER_B = 30.0


@dataclass(frozen=True)
class Reference:
    """A trade described by the score's inputs (percent, contracts, fundamentals points)."""

    apy: float
    pop: float
    spread_pct: float
    open_interest: float
    fundamentals: float

    @property
    def score(self) -> float:
        return float(
            wheel.score(self.apy, self.pop, self.spread_pct, self.open_interest, self.fundamentals)
        )


# The two trades the thresholds are read from (see the module docstring).
GOOD_TRADE = Reference(apy=15.0, pop=73.0, spread_pct=5.0, open_interest=1_000, fundamentals=10)
MARGINAL_TRADE = Reference(apy=10.0, pop=67.0, spread_pct=10.0, open_interest=100, fundamentals=5)


def tier(points: float) -> Tier:
    if points >= TIER_A:
        return "A"
    if points >= TIER_B:
        return "B"
    return "C"


@dataclass(frozen=True)
class Gap:
    """How far a signal is from the tier above it."""

    tier: Tier
    threshold: float
    points: float
    note: str


def _up(value: float) -> float:
    """Rounded UP to 0.1, so the number shown is enough (12.31 -> 12.4)."""
    return math.ceil(round(value * 10.0, 6)) / 10.0


def _levers(points: float, apy: float | None, pop: float | None, spread: float | None) -> list[str]:
    """Each input that alone would add `points` to the score, in words."""
    out: list[str] = []
    a = max(apy or 0.0, 0.0)
    part = 35.0 * min(a / 40.0, 1.0)
    if apy is not None and part + points <= 35.0 + 1e-9:
        need = (part + points) / 35.0 * 40.0
        out.append(f"+{_up(need - a):.1f} % APY (to {_up(need):.1f} %)")
    p = pop if pop is not None else 0.0
    part = 30.0 * float(np.clip((p - 50.0) / 45.0, 0.0, 1.0))
    if pop is not None and part + points <= 30.0 + 1e-9:
        need = 50.0 + (part + points) / 30.0 * 45.0
        out.append(f"P(OTM) +{_up(need - p):.1f} points (to {_up(need):.1f} %)")
    if spread is not None:
        part = 10.0 * float(np.clip(1.0 - spread / 10.0, 0.0, 1.0))
        if part + points < 10.0 - 1e-9:
            need = 10.0 * (1.0 - (part + points) / 10.0)
            out.append(f"a spread of {math.floor(round(need * 10.0, 6)) / 10.0:.1f} % or less")
    return out


def next_tier(
    points: float,
    *,
    apy: float | None = None,
    pop: float | None = None,
    spread_pct: float | None = None,
    captured_pct: float | None = None,
    close: bool = False,
) -> Gap | None:
    """The tier above `points` and what would reach it, or None at tier A.

    "A at 50: +4.2 points; +4.8 % APY (to 19.8 %) or P(OTM) +6.3 points (to 79.3 %) would do
    it". A CLOSE's score is its captured %, so its only lever is the capture.
    """
    if points >= TIER_A:
        return None
    target: Tier = "B" if points < TIER_B else "A"
    threshold = TIER_B if target == "B" else TIER_A
    short = threshold - points
    head = f"{target} at {threshold:g}: +{_up(short):.1f} points"
    if close:
        now = captured_pct if captured_pct is not None else 0.0
        note = (
            f"{head}; {_up(threshold):.1f} % of the premium captured (now {now:.1f} %) would do it"
        )
        return Gap(target, threshold, round(short, 2), note)
    levers = _levers(short, apy, pop, spread_pct)
    if levers:
        note = f"{head}; {' or '.join(levers)} would do it"
    else:
        note = f"{head}; no single number gets it there (APY, P(OTM) and spread together)"
    return Gap(target, threshold, round(short, 2), note)


def mark(sig: Signal) -> Signal:
    """Set the signal's tier and its gap to the next one from its own score and numbers."""
    sig.tier = tier(sig.score)
    gap = next_tier(
        sig.score,
        apy=sig.apy,
        pop=sig.pop,
        spread_pct=sig.spread_pct,
        captured_pct=sig.captured_pct,
        close=sig.kind == "CLOSE",
    )
    sig.next_tier = gap.tier if gap else None
    sig.points_to_next_tier = gap.points if gap else None
    sig.next_tier_note = gap.note if gap else None
    return sig
