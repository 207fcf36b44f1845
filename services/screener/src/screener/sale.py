"""One evaluated contract as a sale signal (CSP or CC; a ROLL starts from one): its numbers,
the "why" in words, and the inputs that were missing."""

from __future__ import annotations

import math

from wheeldesk.schemas.screener import Criteria, Signal, SignalKind, SymbolData

from screener import filters, tiers, wheel
from screener.evaluation import Evaluated, _opt, _r


def exercise_value_note(stock_iv: float) -> str:
    return (
        "IV unknown: the option's price is at its exercise value (no time value left, "
        f"delta 1); the stock's implied volatility {stock_iv * 100:.1f}% used for the "
        "probabilities"
    )


def _reasons(data: SymbolData, ev: Evaluated, i: int, c: Criteria) -> list[str]:
    """The "why": the sale, its odds, how far out of the money, earnings, if called."""
    q, cols, basis = ev.quotes[i], ev.cols, ev.basis
    prem = float(cols.premium[i])
    move = float(ev.expected_move[i])
    dist_pct = float(ev.distance_pct[i])
    dist_em = dist_pct / 100.0 * ev.spot / move if move > 0 else None
    on = f"{cols.collateral[i]:,.0f} USD"
    if basis is not None:
        on += f" (100 shares at the {basis.label} {basis.value:.2f})"
    reasons = [
        f"Sell {q.contract.key} for {prem:.2f} ({c.premium_basis}): APY "
        f"{float(cols.apy[i]):.1f}% simple ({float(ev.apy_compounded[i]):.1f}% compounded) "
        f"on {on}",
        f"P(OTM) {float(ev.pop[i]):.0f}% (expires worthless), P(profit) "
        f"{float(ev.prob_profit[i]):.0f}% (beyond the breakeven {float(ev.breakeven[i]):.2f}); "
        f"|delta| {cols.abs_delta[i]:.2f}" + (" — American model" if ev.american[i] else ""),
        f"strike {dist_pct:.1f}% out of the money"
        + (f", {dist_em:.2f} expected moves" if dist_em is not None else ""),
    ]
    if bool(cols.spans_earnings[i]):
        reasons.append(filters.earnings_message(cols.next_earnings))
    elif data.fundamentals.next_earnings is None and c.earnings != "ignore":
        note = data.fundamentals.next_earnings_note
        if note:  # the bridge said why the earnings rule could not be applied
            reasons.append(f"next earnings date unknown ({note}): check it before selling")
    if basis is not None:
        called = wheel.if_called_return(prem, q.contract.strike, basis.value)
        reasons.append(f"if called: {called * 100:.1f}% on the {basis.label} {basis.value:.2f}")
    return reasons


def _missing(ev: Evaluated, i: int, skipped: list[str] | None) -> list[str]:
    """Inputs IB did not supply, and what stood in for them."""
    missing = list(skipped or [])
    if ev.iv_model[i]:
        model = (
            "American (Bjerksund–Stensland 2002)" if ev.american[i] else "European (Black–Scholes)"
        )
        missing.append(
            "IV and delta unknown from IB (no model greeks): solved from the option's price "
            f"with the {model} model"
        )
    if ev.iv_from_stock[i]:
        missing.append(exercise_value_note(float(ev.iv[i])))
    basis = ev.basis
    if basis is not None and basis.source == "ib_avg_cost":
        missing.append(
            f"ledger basis unknown: IB's average cost {basis.value:.2f} used (premiums "
            "received not deducted)"
        )
    return missing


def to_signal(
    kind: SignalKind,
    data: SymbolData,
    ev: Evaluated,
    i: int,
    c: Criteria,
    skipped: list[str] | None = None,
) -> Signal:
    """A CSP or CC signal (a ROLL starts from one and `shorts.roll` rewrites its numbers)."""
    q = ev.quotes[i]
    cols = ev.cols
    prem = float(cols.premium[i])
    basis = ev.basis
    called = wheel.if_called_return(prem, q.contract.strike, basis.value) if basis else None
    move = float(ev.expected_move[i])
    dist_pct = float(ev.distance_pct[i])
    points = float(ev.score[i])
    rank = cols.iv_rank[i]
    sig = Signal(
        kind=kind,
        symbol=data.symbol,
        contract=q.contract,
        premium_basis=c.premium_basis,
        premium=round(prem, 4),
        collateral=round(float(cols.collateral[i]), 2),
        yield_pct=_r(float(ev.yield_frac[i]) * 100.0, 4),
        apy=_r(float(cols.apy[i]), 2),
        apy_compounded=_r(float(ev.apy_compounded[i]), 2),
        pop=_r(float(ev.pop[i]), 2),
        prob_profit=_r(float(ev.prob_profit[i]), 2),
        abs_delta=_opt(round(float(cols.abs_delta[i]), 4)),
        breakeven=_r(float(ev.breakeven[i]), 4),
        expected_move=_r(move, 4),
        distance_pct=round(dist_pct, 2),
        distance_em=round(dist_pct / 100.0 * ev.spot / move, 3) if move > 0 else None,
        spread_pct=_opt(round(float(cols.spread_pct[i]), 2)),
        open_interest=_opt(float(cols.open_interest[i])),
        volume=q.volume,
        iv=_opt(round(float(ev.iv[i]), 6)),
        iv_rank=None if math.isnan(rank) else round(float(rank), 1),
        iv_percentile=None if ev.iv_percentile is None else round(ev.iv_percentile, 1),
        dte=int(cols.dte[i]),
        underlying_price=ev.spot,
        if_called_return=None if called is None else round(called * 100.0, 4),
        cost_basis=basis.value if basis else None,
        cost_basis_source=basis.source if basis else None,
        ib_avg_cost=basis.ib_avg_cost if basis else None,
        bid=q.bid,
        ask=q.ask,
        fundamentals=data.fundamentals,
        earnings_before_expiry=bool(cols.spans_earnings[i]),
        score=points,
        tier=tiers.tier(points),
        reasons=_reasons(data, ev, i, c),
        skipped=_missing(ev, i, skipped),
        pricing_model="american" if ev.american[i] else "european",
        quote_ts=q.ts,
        market_data_type=str(q.market_data_type),
    )
    return tiers.mark(sig)
