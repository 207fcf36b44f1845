"""The wheel maths of docs/design.md, defined once. Every number a signal shows comes from here.

All functions take floats or numpy arrays (the benchmark runs them on a million contracts).
Percentages are returned as percent (12.5 = 12.5 %), probabilities too; yields are per share.

Definitions
-----------
- DTE: calendar days from now to the expiry's 16:00 US/Eastern close. `dte_days` is the exact
  fraction (used by the model: t = dte_days / 365, Actual/365); `dte` is the whole number of
  calendar days a trader sees (expiry date minus today's date in New York; 0 on expiry day,
  negative once the close has passed). Yields annualise over `max(dte, 1)` so a 0-DTE option
  does not divide by zero.
- Premium: what you would collect per share: the bid (default: what a market sell fills at)
  or the mid, as the criteria say.
- CSP: yield = premium / strike; APY % = yield x 365 / DTE x 100; collateral = strike x 100;
  breakeven = strike - premium.
- CC: yield = premium / basis, where basis is the cost basis of the shares when known
  (they came from an assignment or a purchase) else the underlying price; APY likewise;
  if-called return = (premium + strike - cost basis) / cost basis; breakeven = cost basis -
  premium; collateral = basis x 100 (the shares held as cover).
- APY (simple) as above; APY compounded = ((1 + yield)^(365 / DTE) - 1) x 100, both shown.
- P(OTM) (probability the option expires out of the money, risk-neutral lognormal):
  short put N(d2), short call N(-d2). It is NOT the probability of profit:
  P(profit) = P(S_T beyond the breakeven) = N(d2 evaluated at K = breakeven) for a short put
  and for a covered call alike (both profit above their breakeven).
- CLOSE (buy back a short option held): cost to close = the ask (or the mid when the
  criteria price at the mid); premium captured % = (received - cost) / received x 100;
  remaining per day = cost / max(DTE, 1), the premium holding on would still earn a day.
  No yield, APY, breakeven or payoff: a buy-back sells nothing.
- ROLL (buy back, sell a later one): net credit = new premium - cost to close (negative =
  debit); yield = net credit / collateral per share (new strike for a put, basis for a call);
  APY over the days the roll ADDS (new expiry - old expiry); the position's breakeven after
  the roll = new strike - (premium received + net credit) for a put, and for a covered call
  basis - net credit when the basis already carries the premiums (the ledger's), else
  basis - (premium received + net credit).
- Expected move to expiry: price x IV x sqrt(DTE / 365) (one standard deviation).
- IV rank = (IV now - 52-week low) / (52-week high - 52-week low) x 100.
  IV percentile = share of the past year's days whose IV was below today's x 100; today is
  not one of those days (it is not counted in its own denominator).
  They differ (one spike in the year drags IV rank down, not IV percentile): always named.
- Spread % = (ask - bid) / mid x 100.

Score (0–100) and tier
----------------------
The score weighs what a wheel trader trades off, each part capped so no single number buys
a top tier on its own:
- yield: 35 x min(APY / 40 %, 1) — 40 % a year or more scores in full;
- safety: 30 x clip((POP - 50) / 45, 0, 1) — a 95 % chance of expiring worthless in full,
  a coin flip scores nothing;
- liquidity: 10 x clip(1 - spread % / 10 %, 0, 1) + 10 x clip(log10(open interest) / 4, 0, 1)
  (a tight market and 10,000 contracts open score in full);
- fundamentals: 15 split in three: ROE >= 15 %, free cash flow > 0, beta <= 1.0 (5 each; a
  number IB did not supply gives half, 2.5, so missing data neither helps nor sinks).
The tiers (A, B, C) the score falls in are calibrated on the default criteria: `tiers`.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

# Market time has one owner (wheeldesk.markettime); the wheel maths re-export it by the names
# this module has always used.
from wheeldesk.markettime import NY as NY
from wheeldesk.markettime import dte as dte
from wheeldesk.markettime import dte_days as dte_days

CONTRACT_SIZE = 100

Num = float | np.ndarray


def years(days: Num) -> Num:
    return days / 365.0


def premium(bid: Num | None, ask: Num | None, basis: Literal["bid", "mid"] = "bid") -> Num | None:
    """The per-share premium collected on a sale: the bid, or the mid of bid and ask."""
    if basis == "bid":
        return bid
    if bid is None or ask is None:
        return None
    return (bid + ask) / 2.0


def annualise(yield_fraction: Num, days: Num) -> Num:
    """APY % = yield x 365 / DTE x 100 (simple, not compounded; DTE floored at 1 day)."""
    return yield_fraction * 365.0 / np.maximum(days, 1) * 100.0


def annualise_compounded(yield_fraction: Num, days: Num) -> Num:
    """Compounded APY % = ((1 + yield)^(365 / DTE) - 1) x 100 (DTE floored at 1 day).

    The same trade repeated all year, reinvesting: what "APY" means at a bank. NaN where the
    power overflows (a tiny DTE on a big yield), rather than inf.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        out = (np.power(1.0 + yield_fraction, 365.0 / np.maximum(days, 1)) - 1.0) * 100.0
    return (
        np.where(np.isfinite(out), out, np.nan)
        if isinstance(out, np.ndarray)
        else (float(out) if math.isfinite(out) else math.nan)
    )


def captured_pct(received: float, cost_to_close: float) -> float | None:
    """Share of the premium received already earned: (received - cost) / received x 100."""
    if not received > 0:
        return None
    return (received - cost_to_close) / received * 100.0


def remaining_per_day(cost_to_close: float, days: int) -> float:
    """Premium still to earn by holding to expiry, per share and calendar day (DTE floored
    at 1): what keeping the position open is paid, to compare with what the freed collateral
    would earn elsewhere."""
    return cost_to_close / max(days, 1)


def roll_net_credit(new_premium: Num, cost_to_close: float) -> Num:
    """New premium - cost to buy back the old option (negative = a debit)."""
    return new_premium - cost_to_close


def roll_breakeven(
    right: str,
    new_strike: Num,
    received: float,
    net_credit: Num,
    basis: float | None = None,
    basis_has_premiums: bool = False,
) -> Num:
    """The whole position's breakeven after a roll, per share.

    Put: new strike - (premium first received + net credit of the roll). Covered call:
    basis - net credit when the basis is the ledger's (it already carries the premium
    received), else basis - (premium received + net credit).
    """
    if right == "P":
        return new_strike - (received + net_credit)
    assert basis is not None
    return basis - net_credit if basis_has_premiums else basis - (received + net_credit)


def csp_yield(prem: Num, strike: Num) -> Num:
    return prem / strike


def csp_collateral(strike: Num, multiplier: int = CONTRACT_SIZE) -> Num:
    return strike * multiplier


def csp_breakeven(strike: Num, prem: Num) -> Num:
    return strike - prem


def cc_basis(underlying_price: float, cost_basis: float | None) -> float:
    """The base a covered call's yield is measured on: cost basis when known, else price."""
    return cost_basis if cost_basis is not None and cost_basis > 0 else underlying_price


def cc_yield(prem: Num, basis: Num) -> Num:
    return prem / basis


def cc_breakeven(cost_basis: Num, prem: Num) -> Num:
    return cost_basis - prem


def if_called_return(prem: Num, strike: Num, cost_basis: Num) -> Num:
    """Return if the shares are called away, as a fraction of the cost basis."""
    return (prem + strike - cost_basis) / cost_basis


def expected_move(price: Num, iv: Num, days: Num) -> Num:
    """One standard deviation move to expiry: price x IV x sqrt(DTE / 365)."""
    return price * iv * np.sqrt(np.maximum(days, 0) / 365.0)


def spread_pct(bid: Num, ask: Num) -> Num:
    """(ask - bid) / mid x 100."""
    mid = (bid + ask) / 2.0
    return (ask - bid) / mid * 100.0


def otm_distance_pct(price: Num, strike: Num, is_call: Num) -> Num:
    """How far out of the money the strike is, % of price (negative = in the money)."""
    return np.where(is_call, strike - price, price - strike) / price * 100.0


def iv_rank(iv_now: float, history: list[float] | np.ndarray) -> float | None:
    """(IV now - 52-week low) / (52-week high - 52-week low) x 100, clipped to 0–100."""
    h = np.asarray([v for v in history if v is not None and math.isfinite(v) and v > 0])
    if h.size == 0 or not math.isfinite(iv_now):
        return None
    low, high = float(h.min()), float(h.max())
    if high <= low:
        return None
    return float(np.clip((iv_now - low) / (high - low) * 100.0, 0.0, 100.0))


def iv_percentile(iv_now: float, history: list[float] | np.ndarray) -> float | None:
    """Share of the past year's days whose IV was below today's, x 100.

    `history` is the PAST days only: a caller holding a series that ends with today drops
    that last point first (`iv_stats` does), or today counts in its own denominator.
    """
    h = np.asarray([v for v in history if v is not None and math.isfinite(v) and v > 0])
    if h.size == 0 or not math.isfinite(iv_now):
        return None
    return float((h < iv_now).sum() / h.size * 100.0)


def iv_stats(history: list[float]) -> tuple[float | None, float | None, float | None]:
    """(IV now, IV rank, IV percentile) from a daily IV series whose last point is today.

    IV rank spans the 52-week range including today (today can be the high: rank 100);
    IV percentile compares today with the days BEFORE it only.
    Hand case: past [0.20, 0.22, 0.24, 0.26, 0.80], today 0.30 -> 4 of 5 below = 80.0
    (counting today too would give 4 of 6 = 66.7).
    """
    clean = [v for v in history if v is not None and math.isfinite(v) and v > 0]
    if not clean:
        return None, None, None
    now = clean[-1]
    past = clean[:-1]
    return now, iv_rank(now, clean), iv_percentile(now, past)


def fundamentals_points(
    roe: float | None, free_cash_flow: float | None, beta: float | None, etf: bool = False
) -> float:
    """0–15: 5 each for ROE >= 15 %, FCF > 0, beta <= 1; 2.5 for each one unknown.

    An ETF has no ROE or free cash flow of its own: those two count as unknown (2.5 each)
    whatever IB reported, so a fund is neither helped nor sunk by company ratios.
    """
    if etf:
        roe = free_cash_flow = None
    points = 0.0
    for known, good in (
        (roe is not None, roe is not None and roe >= 15.0),
        (free_cash_flow is not None, free_cash_flow is not None and free_cash_flow > 0),
        (beta is not None, beta is not None and beta <= 1.0),
    ):
        points += 5.0 if good else (0.0 if known else 2.5)
    return points


def score(apy: Num, pop: Num, spread: Num, open_interest: Num, fundamentals: Num = 7.5) -> Num:
    """The documented 0–100 score (see the module docstring). NaN inputs score nothing.

    NaN is scored through fmax (which returns the number where the other side is NaN), not
    by copying each array through nan_to_num: a NaN APY, POP or open interest scores as 0,
    a NaN spread as 100 %, exactly as zero / 100 would (a million contracts in the bench).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        oi_part = np.log10(np.fmax(open_interest, 1.0))
        oi_part /= 4.0
        total = _capped(np.fmax(apy, 0.0) / 40.0, 35.0)
        total += _capped(_at_least_zero((pop - 50.0) / 45.0), 30.0)
        total += _capped(_at_least_zero(1.0 - spread / 10.0), 10.0)
        total += _capped(oi_part, 10.0)
        total += fundamentals
    return np.round(total, 2) if isinstance(total, np.ndarray) else round(float(total), 2)


def _at_least_zero(x: Num) -> Num:
    """max(x, 0) with NaN -> 0 (in place for arrays)."""
    return np.fmax(x, 0.0, out=x) if isinstance(x, np.ndarray) else np.fmax(x, 0.0)


def _capped(x: Num, weight: float) -> Num:
    """weight x min(x, 1), in place for arrays (x >= 0 here)."""
    if isinstance(x, np.ndarray):
        np.minimum(x, 1.0, out=x)
        x *= weight
        return x
    return weight * np.minimum(x, 1.0)
