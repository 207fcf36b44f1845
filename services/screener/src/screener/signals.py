"""From market data to signals: cash-secured puts, covered calls, and roll/close suggestions.

Plain functions over schemas: the scan gathers the data (bridge or inline), these turn it into
`Signal`s and `Rejection`s. Every number comes from `wheel` (formulas) and `pricing` (model).

IV: IB's implied volatility when the quote has it; otherwise it is solved from the option's
mid (else last) price with `pricing.implied_vol`, and the signal's reasons say "model IV".
IV rank / percentile compare the stock's implied volatility now (the latest point of IB's
daily OPTION_IMPLIED_VOLATILITY history) with the year before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.market import OptionQuote
from wheeldesk.schemas.screener import Criteria, Rejection, Signal, SignalKind, SymbolData

from screener import filters, pricing, wheel


def _f(value: float | None) -> float:
    return float(value) if value is not None and math.isfinite(value) else math.nan


def _opt(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass
class Context:
    """What every evaluation needs besides the contracts themselves."""

    criteria: Criteria
    now: datetime
    rate: float
    buying_power: float | None = None


@dataclass
class Evaluated:
    """The numbers of a batch of option quotes, as arrays aligned with `quotes`."""

    quotes: list[OptionQuote]
    spot: float
    cols: filters.OptionColumns
    pop: np.ndarray
    iv: np.ndarray
    iv_model: np.ndarray
    dte_days: np.ndarray
    yield_frac: np.ndarray
    expected_move: np.ndarray
    distance_pct: np.ndarray
    score: np.ndarray
    basis: float | None = None
    cost_basis: float | None = None
    iv_percentile: float | None = None
    failures: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))


def iv_now(history: list[float]) -> float | None:
    clean = [v for v in history if v is not None and math.isfinite(v) and v > 0]
    return clean[-1] if clean else None


def evaluate(
    kind: SignalKind,
    data: SymbolData,
    quotes: list[OptionQuote],
    ctx: Context,
    *,
    cost_basis: float | None = None,
) -> Evaluated:
    """Every wheel number for each quote, and the first option rule each one fails."""
    c = ctx.criteria
    n = len(quotes)
    spot = _f(data.quote.price)
    if not math.isfinite(spot):
        spot = next((q.underlying_price for q in quotes if q.underlying_price), math.nan)
    strike = np.array([q.contract.strike for q in quotes], dtype=float)
    is_call = np.array([q.contract.right == "C" for q in quotes], dtype=bool)
    bid = np.array([_f(q.bid) for q in quotes])
    ask = np.array([_f(q.ask) for q in quotes])
    last = np.array([_f(q.last) for q in quotes])
    mult = np.array([q.contract.multiplier or 100 for q in quotes], dtype=float)
    days = np.array([wheel.dte_days(q.contract.expiry, ctx.now) for q in quotes], dtype=float)
    dte = np.array([wheel.dte(q.contract.expiry, ctx.now) for q in quotes], dtype=float)
    t = np.maximum(days, 1e-6) / 365.0
    q_div = _f(data.fundamentals.dividend_yield) / 100.0
    q_div = 0.0 if not math.isfinite(q_div) else q_div
    with np.errstate(invalid="ignore", divide="ignore"):
        mid = np.where((bid >= 0) & (ask > 0), (bid + ask) / 2.0, np.nan)
        prem = wheel.premium(bid, ask, c.premium_basis)
        prem = np.where(prem > 0, prem, np.nan)
        ib_iv = np.array([_f(q.iv) for q in quotes])
        ib_iv = np.where(ib_iv > 0, ib_iv, np.nan)
        ref_price = np.where(np.isfinite(mid), mid, last)
        solved, _flag = pricing.implied_vol(ref_price, is_call, spot, strike, t, ctx.rate, q_div)
        iv_model = np.isnan(ib_iv)
        iv = np.where(iv_model, solved, ib_iv)
        g = pricing.greeks(is_call, spot, strike, t, ctx.rate, q_div, iv)
        ib_delta = np.array([_f(q.delta) for q in quotes])
        delta = np.where(np.isfinite(ib_delta), ib_delta, g.delta)
        pop = pricing.prob_otm(is_call, spot, strike, t, ctx.rate, q_div, iv) * 100.0
        basis = None
        below_basis = np.zeros(n, dtype=bool)
        if kind == "CC":
            basis = wheel.cc_basis(spot, cost_basis)
            yield_frac = wheel.cc_yield(prem, basis)
            collateral = np.full(n, basis) * mult
            if cost_basis:
                below_basis = strike < cost_basis
        else:
            yield_frac = wheel.csp_yield(prem, strike)
            collateral = wheel.csp_collateral(strike, mult)
        apy = wheel.annualise(yield_frac, dte)
        spread = wheel.spread_pct(bid, ask)
        move = wheel.expected_move(spot, iv, days)
        distance = wheel.otm_distance_pct(spot, strike, is_call)
        hist = data.iv_history
        now_iv = iv_now(hist)
        rank = wheel.iv_rank(now_iv, hist) if now_iv is not None else None
        pct = wheel.iv_percentile(now_iv, hist) if now_iv is not None else None
        oi = np.array([_f(q.open_interest) for q in quotes])
        f = data.fundamentals
        fpoints = wheel.fundamentals_points(f.roe, f.free_cash_flow, f.beta)
        score = wheel.score(apy, pop, spread, oi, fpoints)
    earn = f.next_earnings
    today = ctx.now.astimezone(wheel.NY).date()
    spans = np.array(
        [earn is not None and today <= earn <= q.contract.expiry for q in quotes], dtype=bool
    )
    cols = filters.OptionColumns(
        dte=dte,
        abs_delta=np.abs(delta),
        iv=iv,
        iv_rank=np.full(n, np.nan if rank is None else rank),
        open_interest=oi,
        spread_pct=spread,
        premium=prem,
        apy=apy,
        collateral=collateral,
        needs_cash=np.full(n, kind == "CSP"),
        below_basis=below_basis,
        spans_earnings=spans,
        next_earnings=earn,
    )
    ev = Evaluated(
        quotes=quotes,
        spot=spot,
        cols=cols,
        pop=pop,
        iv=iv,
        iv_model=iv_model,
        dte_days=days,
        yield_frac=yield_frac,
        expected_move=move,
        distance_pct=distance,
        score=score,
        basis=basis,
        cost_basis=cost_basis,
        iv_percentile=pct,
    )
    ev.failures = filters.first_failures(cols, c, buying_power=ctx.buying_power)
    return ev


def to_signal(kind: SignalKind, data: SymbolData, ev: Evaluated, i: int, c: Criteria) -> Signal:
    q = ev.quotes[i]
    cols = ev.cols
    prem = float(cols.premium[i])
    strike = q.contract.strike
    is_call = q.contract.right == "C"
    if kind == "CC" or (kind in ("ROLL", "CLOSE") and is_call):
        cb = ev.cost_basis if ev.cost_basis else ev.spot
        breakeven = wheel.cc_breakeven(cb, prem)
        called = wheel.if_called_return(prem, strike, ev.cost_basis) if ev.cost_basis else None
    else:
        breakeven = wheel.csp_breakeven(strike, prem)
        called = None
    move = float(ev.expected_move[i])
    dist_pct = float(ev.distance_pct[i])
    dist_em = dist_pct / 100.0 * ev.spot / move if move > 0 else None
    spans = bool(cols.spans_earnings[i])
    pop = float(ev.pop[i])
    apy = float(cols.apy[i])
    points = float(ev.score[i])
    reasons = [
        f"{'Sell' if kind != 'CLOSE' else 'Buy to close'} {q.contract.key} for "
        f"{prem:.2f} ({c.premium_basis}): {apy:.1f}% a year on {cols.collateral[i]:,.0f} USD",
        f"{pop:.0f}% chance of expiring worthless (Black–Scholes); |delta| {cols.abs_delta[i]:.2f}",
        f"strike {dist_pct:.1f}% out of the money"
        + (f", {dist_em:.2f} expected moves" if dist_em is not None else ""),
    ]
    if ev.iv_model[i]:
        reasons.append("IV solved from the option's price (IB supplied none)")
    if spans:
        reasons.append(filters.earnings_message(cols.next_earnings))
    elif data.fundamentals.next_earnings is None and c.earnings != "ignore":
        note = data.fundamentals.next_earnings_note
        if note:  # the bridge said why the earnings rule could not be applied
            reasons.append(f"next earnings date unknown ({note}): check it before selling")
    if called is not None:
        reasons.append(f"if called: {called * 100:.1f}% on the cost basis")
    rank = cols.iv_rank[i]
    return Signal(
        kind=kind,
        symbol=data.symbol,
        contract=q.contract,
        premium_basis=c.premium_basis,
        premium=round(prem, 4),
        collateral=round(float(cols.collateral[i]), 2),
        yield_pct=round(float(ev.yield_frac[i]) * 100.0, 4),
        apy=round(apy, 2),
        pop=round(pop, 2),
        abs_delta=_opt(round(float(cols.abs_delta[i]), 4)),
        breakeven=round(float(breakeven), 4),
        expected_move=round(move, 4),
        distance_pct=round(dist_pct, 2),
        distance_em=None if dist_em is None else round(dist_em, 3),
        spread_pct=_opt(round(float(cols.spread_pct[i]), 2)),
        open_interest=_opt(float(cols.open_interest[i])),
        volume=q.volume,
        iv=_opt(round(float(ev.iv[i]), 6)),
        iv_rank=None if math.isnan(rank) else round(float(rank), 1),
        iv_percentile=None if ev.iv_percentile is None else round(ev.iv_percentile, 1),
        dte=int(cols.dte[i]),
        underlying_price=ev.spot,
        if_called_return=None if called is None else round(called * 100.0, 4),
        cost_basis=ev.cost_basis,
        bid=q.bid,
        ask=q.ask,
        fundamentals=data.fundamentals,
        earnings_before_expiry=spans,
        score=points,
        tier=wheel.tier(points),
        reasons=reasons,
        quote_ts=q.ts,
        market_data_type=str(q.market_data_type),
    )


def rejections_of(
    data: SymbolData, ev: Evaluated, c: Criteria, buying_power: float | None, kind: str
) -> list[Rejection]:
    out = []
    for i in np.flatnonzero(ev.failures >= 0):
        rule = filters.OPTION_RULES[int(ev.failures[i])]
        out.append(
            Rejection(
                symbol=data.symbol,
                rule=rule,
                message=f"{kind}: " + filters.describe(rule, int(i), ev.cols, c, buying_power),
                contract=ev.quotes[int(i)].contract.key,
            )
        )
    return out


def best(kind: SignalKind, data: SymbolData, ev: Evaluated, c: Criteria) -> list[Signal]:
    """The passing contracts, highest score first, at most `max_signals_per_symbol`."""
    ok = np.flatnonzero(ev.failures < 0)
    order = ok[np.argsort(-ev.score[ok], kind="stable")]
    return [to_signal(kind, data, ev, int(i), c) for i in order[: c.max_signals_per_symbol]]


def screen(
    kind: SignalKind,
    data: SymbolData,
    quotes: list[OptionQuote],
    ctx: Context,
    *,
    cost_basis: float | None = None,
) -> tuple[list[Signal], list[Rejection]]:
    """CSP (puts) or CC (calls) for one symbol: the best signals and every rejected contract."""
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
    ev = evaluate(kind, data, quotes, ctx, cost_basis=cost_basis)
    return best(kind, data, ev, ctx.criteria), rejections_of(
        data, ev, ctx.criteria, ctx.buying_power, kind
    )


# ---- positions ---------------------------------------------------------------------------


def stock_lots(positions: list[Position]) -> dict[str, Position]:
    """Stock positions of at least 100 shares (one covered call per 100), by symbol."""
    return {
        p.symbol.upper(): p
        for p in positions
        if p.sec_type == "STK" and p.quantity >= wheel.CONTRACT_SIZE
    }


def short_options(positions: list[Position]) -> list[Position]:
    return [
        p
        for p in positions
        if p.sec_type == "OPT" and p.quantity < 0 and p.expiry is not None and p.strike and p.right
    ]


def matches(q: OptionQuote, p: Position) -> bool:
    return (
        q.contract.expiry == p.expiry
        and q.contract.right == p.right
        and abs(q.contract.strike - float(p.strike or 0)) < 1e-6
    )


def manage_short(
    p: Position,
    quotes: list[OptionQuote],
    data: SymbolData,
    ctx: Context,
) -> tuple[list[Signal], list[Rejection]]:
    """Take profit, roll, or nothing, for one short option held.

    CLOSE when at least `take_profit_pct` of the premium received is captured (the cost to buy
    back at the ask is at most (100 - X)% of it). ROLL when DTE <= `roll_dte`, or when the
    option is in the money with DTE <= 3 x `roll_dte` (assignment risk grows near expiry):
    to a later expiry at the same or a further out-of-the-money strike (lower for a put,
    higher for a call) for a net credit (new premium - buy-back cost > 0), best score first.
    When no roll earns a credit, a CLOSE is suggested instead, saying so.
    """
    c = ctx.criteria
    held = next((q for q in quotes if matches(q, p)), None)
    key = f"{p.symbol} {p.expiry} {p.strike:g}{p.right}"
    if held is None or held.ask is None or not math.isfinite(held.ask):
        return [], [
            Rejection(
                symbol=p.symbol,
                rule="no_quote",
                message=f"held {key}: no ask price to value a buy-back",
                contract=key,
            )
        ]
    cost = float(held.ask)
    received = abs(p.avg_price)  # per share; the schema owns the x100 conversion
    captured = (received - cost) / received * 100.0 if received > 0 else 0.0
    days = wheel.dte(held.contract.expiry, ctx.now)
    spot = _f(data.quote.price)
    itm = (p.right == "P" and spot < float(p.strike)) or (p.right == "C" and spot > float(p.strike))
    lots = abs(int(p.quantity))
    kind: SignalKind
    if captured >= c.take_profit_pct:
        ev = evaluate("CLOSE", data, [held], ctx)
        ev.cols.premium[0] = cost
        sig = to_signal("CLOSE", data, ev, 0, c)
        sig.net_credit = round(-cost, 4)
        sig.captured_pct = round(captured, 1)
        sig.reasons.insert(
            0,
            f"{captured:.0f}% of the {received:.2f} premium captured (target "
            f"{c.take_profit_pct:g}%): buy back {lots} at {cost:.2f}",
        )
        return [sig], []
    if not (days <= c.roll_dte or (itm and days <= 3 * c.roll_dte)):
        return [], [
            Rejection(
                symbol=p.symbol,
                rule="hold",
                message=(
                    f"held {key}: {captured:.0f}% captured (< {c.take_profit_pct:g}%), "
                    f"{days} DTE (> {c.roll_dte}), {'in' if itm else 'out of'} the money: hold"
                ),
                contract=key,
            )
        ]
    later = [
        q
        for q in quotes
        if q.contract.right == p.right
        and q.contract.expiry > p.expiry
        and (
            q.contract.strike <= float(p.strike)
            if p.right == "P"
            else q.contract.strike >= float(p.strike)
        )
    ]
    why = f"{days} DTE (roll at {c.roll_dte})" if days <= c.roll_dte else "in the money near expiry"
    kind = "CC" if p.right == "C" else "CSP"
    ev = evaluate(kind, data, later, ctx) if later else None
    best_i = None
    if ev is not None:
        credit = ev.cols.premium - cost
        # A roll keeps the same collateral: buying power and DTE-window rules do not apply.
        ok = np.isfinite(credit) & (credit > 0)
        if ok.any():
            idx = np.flatnonzero(ok)
            best_i = int(idx[np.argmax(ev.score[idx])])
    if ev is None or best_i is None:
        ev = evaluate("CLOSE", data, [held], ctx)
        ev.cols.premium[0] = cost
        sig = to_signal("CLOSE", data, ev, 0, c)
        sig.net_credit = round(-cost, 4)
        sig.captured_pct = round(captured, 1)
        sig.reasons.insert(0, f"{why}: no later expiry pays a net credit; close at {cost:.2f}")
        return [sig], []
    sig = to_signal("ROLL", data, ev, best_i, c)
    new_prem = float(ev.cols.premium[best_i])
    sig.net_credit = round(new_prem - cost, 4)
    sig.captured_pct = round(captured, 1)
    sig.roll_from = held.contract
    sig.reasons.insert(
        0,
        f"{why}: buy back {key} at {cost:.2f}, sell {sig.contract.key} at {new_prem:.2f} "
        f"for a net credit of {new_prem - cost:.2f} ({sig.apy:.1f}% a year on the new contract)",
    )
    return [sig], []
