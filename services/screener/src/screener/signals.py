"""From market data to signals: cash-secured puts, covered calls, and roll/close suggestions.

Plain functions over schemas: the scan gathers the data (bridge or inline), these turn it into
`Signal`s and `Rejection`s. Every number comes from `wheel` (formulas) and `pricing` (model).
The steps live in their own modules: `evaluation` (the numbers of a batch of quotes),
`sale` (one contract as a CSP/CC signal), `shorts` (what is held: CLOSE, ROLL, the lots a
call may cover); this module screens one symbol and re-exports the names the scan uses.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from wheeldesk.schemas.market import OptionQuote
from wheeldesk.schemas.screener import Criteria, Rejection, Signal, SignalKind, SymbolData

from screener import filters
from screener.evaluation import Basis, Context, Evaluated, evaluate, iv_now
from screener.sale import to_signal
from screener.shorts import (
    close_signal,
    cost_to_close,
    manage_short,
    matches,
    not_already_short,
    short_options,
    stock_lots,
    uncovered_lots,
)

__all__ = [
    "Basis",
    "Context",
    "Evaluated",
    "best",
    "close_signal",
    "cost_to_close",
    "evaluate",
    "iv_now",
    "manage_short",
    "matches",
    "not_already_short",
    "rejections_of",
    "screen",
    "short_options",
    "stock_lots",
    "to_signal",
    "uncovered_lots",
]


def rejections_of(
    data: SymbolData,
    ev: Evaluated,
    c: Criteria,
    buying_power: float | None,
    kind: str,
    cash_capacity: float | None = None,
) -> list[Rejection]:
    out = []
    for i in np.flatnonzero(ev.failures >= 0):
        rule = filters.OPTION_RULES[int(ev.failures[i])]
        out.append(
            Rejection(
                symbol=data.symbol,
                rule=rule,
                message=f"{kind}: "
                + filters.describe(rule, int(i), ev.cols, c, buying_power, cash_capacity),
                contract=ev.quotes[int(i)].contract.key,
            )
        )
    return out


def best(
    kind: SignalKind,
    data: SymbolData,
    ev: Evaluated,
    c: Criteria,
    skipped: list[str] | None = None,
) -> list[Signal]:
    """The passing contracts, highest score first, at most `max_signals_per_symbol`.

    The ones about to be returned get the American model where they need it (in the money
    or IV solved, early exercise possible); that can move their score or make one fail a
    rule (an American IV is lower, its |delta| higher), so the pick repeats until the top
    is stable. Rejections keep the European numbers: out of the money the two differ by a
    fraction of a vol point, and an in-the-money contract above the delta band stays above
    it (early exercise only pushes |delta| towards 1).
    """
    limit = c.max_signals_per_symbol
    for _ in range(limit + 2):
        ok = np.flatnonzero(ev.failures < 0)
        order = ok[np.argsort(-ev.score[ok], kind="stable")]
        top = np.zeros(len(ev.quotes), dtype=bool)
        top[order[:limit]] = True
        if not (top & ev.needs_american & ~ev.american).any():
            break
        ev.refine(top)
    return [
        to_signal(kind, data, ev, int(i), c, skipped) for i in order[: c.max_signals_per_symbol]
    ]


def screen(
    kind: SignalKind,
    data: SymbolData,
    quotes: list[OptionQuote],
    ctx: Context,
    *,
    basis: Basis | None = None,
) -> tuple[list[Signal], list[Rejection]]:
    """CSP (puts) or CC (calls) for one symbol: the best signals and every rejected contract.

    A covered call is screened on its own DTE window, delta band and minimum APY when the
    criteria set them (`Criteria.for_kind`).
    """
    ctx = replace(ctx, criteria=ctx.criteria.for_kind(kind))
    right = "C" if kind == "CC" else "P"
    quotes = [q for q in quotes if q.contract.right == right]
    if not quotes:
        return [], [
            Rejection(
                symbol=data.symbol,
                rule="no_contracts",
                message=f"{kind}: no {right} quotes inside the DTE window and delta band",
            )
        ]
    ev = evaluate(kind, data, quotes, ctx, basis=basis)
    skipped = filters.skipped_fundamentals(data.symbol, data.fundamentals, ctx.criteria)
    return best(kind, data, ev, ctx.criteria, skipped), rejections_of(
        data, ev, ctx.criteria, ctx.buying_power, kind, ctx.cash_capacity
    )
