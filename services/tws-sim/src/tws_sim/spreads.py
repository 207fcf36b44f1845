"""Option bid/ask widths: liquidity classes, US option tick rules and the width model.

Real option markets are quoted as a share of the premium, not a fixed dollar amount: a
liquid large cap's near-the-money monthly trades a cent or two wide (2–5 % of a $0.30
premium), an illiquid small cap's 10–30 % wide. Widths grow for far out-of-the-money strikes,
weeklies and long-dated expiries, and can never be narrower than the tick the exchange lets a
price move by. The model here is deliberately simple and documented (README, "The simulated
market") so a test can derive the exact bid/ask of any contract from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The price where the US penny program's tick steps up (exchange rule: quotes below $3.00
# move in the fine tick, at or above it in the coarse one).
TICK_BREAK = 3.0


@dataclass(frozen=True, slots=True)
class Liquidity:
    """A liquidity class: the base width as a share of the premium and the tick rule."""

    base_pct: float  # width / mid for an at-the-money monthly, in percent
    fine_tick: float  # tick for prices below TICK_BREAK
    coarse_tick: float  # tick for prices at or above TICK_BREAK


# index: SPY (penny increments at every price); liquid: penny-program large caps ($0.01 under
# $3, $0.05 at or above); standard: mid caps, also penny program but twice as wide; thin: small
# or illiquid names outside the penny program ($0.05 under $3, $0.10 at or above).
LIQUIDITY: dict[str, Liquidity] = {
    "index": Liquidity(base_pct=0.5, fine_tick=0.01, coarse_tick=0.01),
    "liquid": Liquidity(base_pct=2.0, fine_tick=0.01, coarse_tick=0.05),
    "standard": Liquidity(base_pct=5.0, fine_tick=0.01, coarse_tick=0.05),
    "thin": Liquidity(base_pct=10.0, fine_tick=0.05, coarse_tick=0.10),
}

# Market caps (USD millions) the universe file's classes follow; synthetic stocks use them too.
LIQUID_CAP_M = 150_000.0
STANDARD_CAP_M = 40_000.0

OTM_WIDENING = 0.3  # per standard deviation out of the money, up to 4
TERM_WIDENING = 0.75  # per year beyond 45 days, up to one year
WEEKLY_WIDENING = 1.25  # weeklies trade thinner than the monthly cycle
JITTER = 0.3  # a fixed per-contract factor in [1 - JITTER/2, 1 + JITTER/2)


def liquidity_for_cap(market_cap_m: float) -> str:
    """The class a stock of this market cap gets (how the universe file was classified)."""
    if market_cap_m >= LIQUID_CAP_M:
        return "liquid"
    if market_cap_m >= STANDARD_CAP_M:
        return "standard"
    return "thin"


def width_pct(
    liquidity: str, otm_sd: float, years: float, *, monthly: bool, jitter_u: float
) -> float:
    """Quoted width as a percentage of the model mid.

    otm_sd: how far out of the money the strike is, in standard deviations to expiry
    (0 at or in the money); years: time to expiry; jitter_u: the contract's fixed uniform(0,1)
    draw, so neighbouring contracts are not all the same width.
    """
    pct = LIQUIDITY[liquidity].base_pct
    pct *= 1.0 + OTM_WIDENING * min(max(otm_sd, 0.0), 4.0)
    pct *= 1.0 + TERM_WIDENING * min(max(years - 45 / 365, 0.0), 1.0)
    pct *= 1.0 if monthly else WEEKLY_WIDENING
    return pct * (1.0 - JITTER / 2 + JITTER * jitter_u)


def tick_for(liquidity: str, price: float) -> float:
    """The minimum price variation for an option quoted at `price`."""
    cls = LIQUIDITY[liquidity]
    return cls.fine_tick if price < TICK_BREAK - 1e-9 else cls.coarse_tick


def bid_ask(mid: float, pct: float, liquidity: str) -> tuple[float, float, float]:
    """(bid, ask, tick): a whole number of ticks, at least one, centred on the model mid.

    The width in ticks is the model width rounded to the nearest tick; the bid is the tick
    nearest to mid - width/2, so bid <= mid <= ask and the quote's own mid is within half a
    tick of the model (never pushed outward on both sides). A quote reaching $3 uses the
    coarse tick for both sides. The bid floors at 0 (an ask-only quote for worthless strikes).
    """
    width = mid * pct / 100.0
    tick = tick_for(liquidity, mid + width / 2)
    ticks = max(1, round(width / tick))
    low = round((mid - ticks * tick / 2) / tick)
    high = low + ticks
    bid = round(max(low, 0) * tick, 2)
    ask = round(max(high, 1) * tick, 2)
    return bid, ask, tick


def otm_sd(right: str, strike: float, spot: float, iv: float, years: float) -> float:
    """Standard deviations out of the money to expiry (0 when at or in the money)."""
    log_k = math.log(strike / spot)
    out = log_k if right == "C" else -log_k
    return max(out, 0.0) / (iv * math.sqrt(max(years, 1 / 365)))


# Market rule ids reported in contract details (`marketRuleIds`) and answered by
# reqMarketRule, one per liquidity class: the increments are derived from LIQUIDITY above.
MARKET_RULE_IDS: dict[str, int] = {"index": 26, "liquid": 32, "standard": 32, "thin": 110}


def market_rule_increments(rule_id: int) -> list[tuple[float, float]]:
    """(lowEdge, increment) pairs of a market rule, as IB's reqMarketRule answers them."""
    liquidity = next(k for k, v in MARKET_RULE_IDS.items() if v == rule_id)
    cls = LIQUIDITY[liquidity]
    if cls.fine_tick == cls.coarse_tick:
        return [(0.0, cls.fine_tick)]
    return [(0.0, cls.fine_tick), (TICK_BREAK, cls.coarse_tick)]


def off_tick_neighbours(liquidity: str, price: float) -> tuple[float, float] | None:
    """None when `price` is on the option tick, otherwise the valid prices either side.

    A limit price off the tick is what real IB rejects with error 110; the neighbours let
    the message say what would be accepted.
    """
    tick = tick_for(liquidity, price)
    n = price / tick
    if abs(n - round(n)) < 1e-6:
        return None
    low = round(math.floor(n) * tick, 2)
    high = round(math.ceil(n) * tick, 2)
    if tick_for(liquidity, high) != tick:  # crossing $3: the next price up is on the coarse tick
        high = round(TICK_BREAK, 2)
    return low, high
