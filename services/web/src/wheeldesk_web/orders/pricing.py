"""The limit price the ticket suggests: the mid moved onto a price every US option accepts.

The web does not know a contract's own tick rule, so it uses the coarsest one US options
have ($0.05 under $3, $0.10 from $3 — the non-penny rule). A multiple of it is on the tick
of every class (penny $0.01/$0.05, SPY $0.01), so IB never answers error 110 to it.
Conservative rule: a sell rounds the mid DOWN to that grid but never below the bid, a buy
rounds UP but never above the ask; the bid and ask themselves are always on the tick.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

TICK_BREAK = Decimal("3")
# A nominal limit for a what-if asked before any price is known: on every class's tick.
PLACEHOLDER_LIMIT = Decimal("0.05")


def coarse_tick(price: Decimal) -> Decimal:
    """The widest US option tick at this price (a multiple of every class's tick)."""
    return Decimal("0.05") if price < TICK_BREAK else Decimal("0.10")


def suggested_limit(
    action: str, mid: float, bid: float | None, ask: float | None
) -> Decimal | None:
    """The mid on the coarse grid, rounded away from the user's favour, kept inside the quote."""
    if not mid or mid <= 0:
        return None
    m = Decimal(str(mid))
    tick = coarse_tick(m)
    rounding = ROUND_FLOOR if action == "SELL" else ROUND_CEILING
    price = (m / tick).to_integral_value(rounding=rounding) * tick
    if action == "SELL" and bid and price < Decimal(str(bid)):
        price = Decimal(str(bid))
    if action == "BUY" and ask and price > Decimal(str(ask)):
        price = Decimal(str(ask))
    if price <= 0:
        price = tick
    return price.quantize(Decimal("0.01"))
