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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

import numpy as np
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.market import OptionQuote
from wheeldesk.schemas.screener import Criteria, Rejection, Signal, SignalKind, SymbolData

from screener import american, filters, pricing, wheel


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
    cash_capacity: float | None = None


@dataclass(frozen=True)
class Basis:
    """The cost basis a covered call is measured on, and where it came from.

    The ledger's premium-adjusted basis when the scan request carries it (the web fills it
    from its wheel ledger); otherwise IB's average cost of the shares (for assigned shares:
    the strike, premiums not deducted), labelled as such. Both are shown when known.
    """

    value: float
    source: Literal["ledger", "ib_avg_cost"]
    ib_avg_cost: float | None = None

    @staticmethod
    def of(ledger: float | None, ib_avg_cost: float | None) -> Basis | None:
        ib = ib_avg_cost if ib_avg_cost is not None and ib_avg_cost > 0 else None
        if ledger is not None and ledger > 0:
            return Basis(float(ledger), "ledger", ib)
        if ib is not None:
            return Basis(float(ib), "ib_avg_cost", ib)
        return None

    @property
    def label(self) -> str:
        return "ledger basis" if self.source == "ledger" else "IB average cost"


@dataclass
class Evaluated:
    """The numbers of a batch of option quotes, as arrays aligned with `quotes`."""

    quotes: list[OptionQuote]
    spot: float
    cols: filters.OptionColumns
    pop: np.ndarray
    prob_profit: np.ndarray
    breakeven: np.ndarray
    apy_compounded: np.ndarray
    iv: np.ndarray
    iv_model: np.ndarray
    american: np.ndarray
    dte_days: np.ndarray
    yield_frac: np.ndarray
    expected_move: np.ndarray
    distance_pct: np.ndarray
    score: np.ndarray
    fpoints: float
    basis: Basis | None = None
    iv_percentile: float | None = None
    failures: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    needs_american: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    iv_from_stock: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    refine: Callable[[np.ndarray], None] = lambda mask: None


def iv_now(history: list[float]) -> float | None:
    clean = [v for v in history if v is not None and math.isfinite(v) and v > 0]
    return clean[-1] if clean else None


def evaluate(
    kind: SignalKind,
    data: SymbolData,
    quotes: list[OptionQuote],
    ctx: Context,
    *,
    basis: Basis | None = None,
    screen: bool = True,
) -> Evaluated:
    """Every wheel number for each quote, and the first option rule each one fails.

    `kind` is what selling the contract would be: CSP for a put, CC for a call (a roll's
    new option is evaluated as the sale it is). `screen` False (a held option, roll
    candidates): every contract that needs the American model gets it at once; in a screen
    `best` refines only the contracts it is about to return (`Evaluated.refine`).
    """
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
    q_div = _f(data.fundamentals.dividend_yield) / 100.0  # Fundamentals: percent
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
        ib_delta = np.array([_f(q.delta) for q in quotes])
        delta = np.where(np.isfinite(ib_delta), ib_delta, pricing.greeks(
            is_call, spot, strike, t, ctx.rate, q_div, iv
        ).delta)  # fmt: skip
        pop = pricing.prob_otm(is_call, spot, strike, t, ctx.rate, q_div, iv) * 100.0
        below_basis = np.zeros(n, dtype=bool)
        if kind == "CC":
            base = wheel.cc_basis(spot, basis.value if basis else None)
            yield_frac = wheel.cc_yield(prem, base)
            collateral = np.full(n, base) * mult
            breakeven = wheel.cc_breakeven(np.full(n, base), prem)
            if basis is not None:
                below_basis = strike < basis.value
        else:
            yield_frac = wheel.csp_yield(prem, strike)
            collateral = wheel.csp_collateral(strike, mult)
            breakeven = wheel.csp_breakeven(strike, prem)
        prob_profit = pricing.prob_above(spot, breakeven, t, ctx.rate, q_div, iv) * 100.0
        apy = wheel.annualise(yield_frac, dte)
        apy_c = wheel.annualise_compounded(yield_frac, dte)
        spread = wheel.spread_pct(bid, ask)
        move = wheel.expected_move(spot, iv, days)
        distance = wheel.otm_distance_pct(spot, strike, is_call)
        stock_iv, rank, pct = wheel.iv_stats(data.iv_history)
        oi = np.array([_f(q.open_interest) for q in quotes])
        f = data.fundamentals
        etf = filters.is_etf(data.symbol)
        fpoints = wheel.fundamentals_points(f.roe, f.free_cash_flow, f.beta, etf=etf)
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
        prob_profit=prob_profit,
        breakeven=breakeven,
        apy_compounded=apy_c,
        iv=iv,
        iv_model=iv_model,
        american=np.zeros(n, dtype=bool),
        dte_days=days,
        yield_frac=yield_frac,
        expected_move=move,
        distance_pct=distance,
        score=score,
        fpoints=fpoints,
        basis=basis if kind == "CC" else None,
        iv_percentile=pct,
    )
    ev.failures = filters.first_failures(
        cols, c, buying_power=ctx.buying_power, cash_capacity=ctx.cash_capacity
    )
    # American exercise where the European numbers mislead: early exercise can pay, and the
    # contract is in the money or its IV is solved from its price; only numbers we computed
    # (IB's own IV and delta come from IB's American model).
    ev.iv_from_stock = np.zeros(n, dtype=bool)
    ev.needs_american = american.needs_american(
        is_call, spot, strike, ctx.rate, q_div, iv_model
    ) & (iv_model | ~np.isfinite(ib_delta))

    signed = {"delta": delta}

    def refine(mask: np.ndarray) -> None:
        """American IV (where solved), delta and everything they feed, for `mask` only."""
        mask = mask & ev.needs_american & ~ev.american
        if not mask.any():
            return
        with np.errstate(invalid="ignore", divide="ignore"):
            new_iv, model_delta = american.refine(
                mask, ref_price, is_call, spot, strike, t, ctx.rate, q_div, ev.iv, iv_model,
                signed["delta"],
            )  # fmt: skip
            delta = signed["delta"] = np.where(np.isfinite(ib_delta), ib_delta, model_delta)
            # a price at its exercise value carries no IV: the stock's IV now stands in for
            # the probabilities (and the signal says so)
            no_iv = mask & np.isnan(new_iv) & np.isfinite(ref_price)
            if no_iv.any() and stock_iv is not None:
                new_iv = np.where(no_iv, stock_iv, new_iv)
                ev.iv_from_stock = ev.iv_from_stock | no_iv
            ev.pop = pricing.prob_otm(is_call, spot, strike, t, ctx.rate, q_div, new_iv) * 100.0
            ev.prob_profit = pricing.prob_above(spot, breakeven, t, ctx.rate, q_div, new_iv) * 100.0
            ev.expected_move = wheel.expected_move(spot, new_iv, days)
            ev.score = wheel.score(apy, ev.pop, spread, oi, fpoints)
        ev.iv = cols.iv = new_iv
        cols.abs_delta = np.abs(delta)
        ev.american = ev.american | mask
        ev.failures = filters.first_failures(
            cols, c, buying_power=ctx.buying_power, cash_capacity=ctx.cash_capacity
        )

    ev.refine = refine
    if not screen:
        refine(np.ones(n, dtype=bool))
    return ev


def _r(value: float, digits: int) -> float | None:
    return round(float(value), digits) if math.isfinite(value) else None


def _exercise_value_note(stock_iv: float) -> str:
    return (
        "IV unknown: the option's price is at its exercise value (no time value left, "
        f"delta 1); the stock's implied volatility {stock_iv * 100:.1f}% used for the "
        "probabilities"
    )


def to_signal(
    kind: SignalKind,
    data: SymbolData,
    ev: Evaluated,
    i: int,
    c: Criteria,
    skipped: list[str] | None = None,
) -> Signal:
    """A CSP or CC signal (a ROLL starts from one and `manage_short` rewrites its numbers)."""
    q = ev.quotes[i]
    cols = ev.cols
    prem = float(cols.premium[i])
    strike = q.contract.strike
    basis = ev.basis
    called = wheel.if_called_return(prem, strike, basis.value) if basis else None
    move = float(ev.expected_move[i])
    dist_pct = float(ev.distance_pct[i])
    dist_em = dist_pct / 100.0 * ev.spot / move if move > 0 else None
    spans = bool(cols.spans_earnings[i])
    pop = float(ev.pop[i])
    p_profit = float(ev.prob_profit[i])
    apy = float(cols.apy[i])
    points = float(ev.score[i])
    model = "american" if ev.american[i] else "european"
    on = f"{cols.collateral[i]:,.0f} USD"
    if basis is not None:
        on += f" (100 shares at the {basis.label} {basis.value:.2f})"
    reasons = [
        f"Sell {q.contract.key} for {prem:.2f} ({c.premium_basis}): APY {apy:.1f}% simple "
        f"({float(ev.apy_compounded[i]):.1f}% compounded) on {on}",
        f"P(OTM) {pop:.0f}% (expires worthless), P(profit) {p_profit:.0f}% (beyond the "
        f"breakeven {float(ev.breakeven[i]):.2f}); |delta| {cols.abs_delta[i]:.2f}"
        + (" — American model" if model == "american" else ""),
        f"strike {dist_pct:.1f}% out of the money"
        + (f", {dist_em:.2f} expected moves" if dist_em is not None else ""),
    ]
    missing = list(skipped or [])
    if ev.iv_model[i]:
        missing.append(
            "IV and delta unknown from IB (no model greeks): solved from the option's price "
            f"with the {'American (Bjerksund–Stensland 2002)' if model == 'american' else 'European (Black–Scholes)'} model"
        )
    if ev.iv_from_stock[i]:
        missing.append(_exercise_value_note(float(ev.iv[i])))
    if basis is not None and basis.source == "ib_avg_cost":
        missing.append(
            f"ledger basis unknown: IB's average cost {basis.value:.2f} used (premiums "
            "received not deducted)"
        )
    if spans:
        reasons.append(filters.earnings_message(cols.next_earnings))
    elif data.fundamentals.next_earnings is None and c.earnings != "ignore":
        note = data.fundamentals.next_earnings_note
        if note:  # the bridge said why the earnings rule could not be applied
            reasons.append(f"next earnings date unknown ({note}): check it before selling")
    if called is not None:
        reasons.append(f"if called: {called * 100:.1f}% on the {basis.label} {basis.value:.2f}")
    rank = cols.iv_rank[i]
    return Signal(
        kind=kind,
        symbol=data.symbol,
        contract=q.contract,
        premium_basis=c.premium_basis,
        premium=round(prem, 4),
        collateral=round(float(cols.collateral[i]), 2),
        yield_pct=_r(float(ev.yield_frac[i]) * 100.0, 4),
        apy=_r(apy, 2),
        apy_compounded=_r(float(ev.apy_compounded[i]), 2),
        pop=_r(pop, 2),
        prob_profit=_r(p_profit, 2),
        abs_delta=_opt(round(float(cols.abs_delta[i]), 4)),
        breakeven=_r(float(ev.breakeven[i]), 4),
        expected_move=_r(move, 4),
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
        cost_basis=basis.value if basis else None,
        cost_basis_source=basis.source if basis else None,
        ib_avg_cost=basis.ib_avg_cost if basis else None,
        bid=q.bid,
        ask=q.ask,
        fundamentals=data.fundamentals,
        earnings_before_expiry=spans,
        score=points,
        tier=wheel.tier(points),
        reasons=reasons,
        skipped=missing,
        pricing_model=model,
        quote_ts=q.ts,
        market_data_type=str(q.market_data_type),
    )


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


def uncovered_lots(lot: Position | None, shorts: list[Position]) -> int:
    """Covered calls the shares can still carry: shares // 100 - short calls held.

    200 shares with 2 calls short are fully covered (0): a third call would be naked. `shorts`
    are the symbol's short options (puts are ignored: they cover nothing).
    """
    if lot is None:
        return 0
    calls = sum(abs(int(p.quantity)) for p in shorts if p.right == "C")
    return max(int(lot.quantity) // wheel.CONTRACT_SIZE - calls, 0)


def not_already_short(
    quotes: list[OptionQuote], shorts: list[Position]
) -> tuple[list[OptionQuote], list[OptionQuote]]:
    """(quotes not held short, quotes of contracts already short): selling more of a contract
    already short is not a new trade — the held one is managed by CLOSE/ROLL instead."""
    fresh: list[OptionQuote] = []
    held: list[OptionQuote] = []
    for q in quotes:
        (held if any(matches(q, p) for p in shorts) else fresh).append(q)
    return fresh, held


def matches(q: OptionQuote, p: Position) -> bool:
    return (
        q.contract.expiry == p.expiry
        and q.contract.right == p.right
        and abs(q.contract.strike - float(p.strike or 0)) < 1e-6
    )


def cost_to_close(held: OptionQuote, c: Criteria) -> tuple[float, Literal["ask", "mid"]] | None:
    """What buying back costs per share, and which quote that is: the ask (what a market buy
    fills at), or the mid when the criteria price at the mid and the quote is two-sided."""
    ask, bid = _f(held.ask), _f(held.bid)
    if c.premium_basis == "mid" and math.isfinite(bid) and math.isfinite(ask) and bid >= 0 < ask:
        return (bid + ask) / 2.0, "mid"
    if math.isfinite(ask) and ask >= 0:
        return ask, "ask"
    return None


def close_signal(
    p: Position,
    held: OptionQuote,
    data: SymbolData,
    ctx: Context,
    cost: float,
    close_basis: Literal["ask", "mid"],
    lead: str,
) -> Signal:
    """CLOSE: buy back the short option held. A purchase: no yield, APY, breakeven or payoff.

    Shows the cost to close (and which quote it is), the premium captured, and what holding
    on would still earn per day; the score is the premium captured % (so a 90 % capture is
    tier A), the model numbers (P(OTM), delta, IV) are the held option's.
    """
    received = abs(p.avg_price)
    captured = wheel.captured_pct(received, cost)
    ev = evaluate("CC" if p.right == "C" else "CSP", data, [held], ctx, screen=False)
    days = int(ev.cols.dte[0])
    per_day = wheel.remaining_per_day(cost, days)
    lots = max(abs(int(p.quantity)), 1)
    mult = held.contract.multiplier or 100
    captured_text = (
        f"{captured:.1f}% of the {received:.2f} premium received captured"
        if captured is not None
        else "premium received unknown (IB reported no average cost)"
    )
    reasons = [
        lead,
        f"Buy to close {lots} {held.contract.key} at {cost:.2f} ({close_basis}) = "
        f"{cost * mult * lots:,.2f} USD: {captured_text}",
        f"holding to expiry would earn the remaining {cost:.2f} over {max(days, 1)} days: "
        f"{per_day:.4f} a share ({per_day * mult:.2f} USD a contract) a day",
        f"P(OTM) {float(ev.pop[0]):.0f}% if held to expiry; |delta| {ev.cols.abs_delta[0]:.2f}"
        if math.isfinite(float(ev.pop[0]))
        else f"P(OTM) unknown (no IV); |delta| {ev.cols.abs_delta[0]:.2f}",
    ]
    points = float(np.clip(captured if captured is not None else 0.0, 0.0, 100.0))
    rank = ev.cols.iv_rank[0]
    move = float(ev.expected_move[0])
    dist = float(ev.distance_pct[0])
    return Signal(
        kind="CLOSE",
        symbol=data.symbol,
        contract=held.contract,
        premium_basis=close_basis,
        premium=round(cost, 4),
        collateral=round(float(ev.cols.collateral[0]), 2),
        quantity=lots,
        yield_pct=None,
        apy=None,
        apy_compounded=None,
        pop=_r(float(ev.pop[0]), 2),
        prob_profit=None,
        abs_delta=_opt(round(float(ev.cols.abs_delta[0]), 4)),
        breakeven=None,
        expected_move=_r(move, 4),
        distance_pct=round(dist, 2),
        distance_em=round(dist / 100.0 * ev.spot / move, 3) if move > 0 else None,
        spread_pct=_opt(round(float(ev.cols.spread_pct[0]), 2)),
        open_interest=_opt(float(ev.cols.open_interest[0])),
        volume=held.volume,
        iv=_opt(round(float(ev.iv[0]), 6)),
        iv_rank=None if math.isnan(rank) else round(float(rank), 1),
        iv_percentile=None if ev.iv_percentile is None else round(ev.iv_percentile, 1),
        dte=days,
        underlying_price=ev.spot,
        net_credit=round(-cost, 4),
        bid=held.bid,
        ask=held.ask,
        fundamentals=data.fundamentals,
        score=round(points, 2),
        tier=wheel.tier(points),
        reasons=reasons,
        skipped=[_exercise_value_note(float(ev.iv[0]))] if ev.iv_from_stock[0] else [],
        pricing_model="american" if ev.american[0] else "european",
        quote_ts=held.ts,
        market_data_type=str(held.market_data_type),
        captured_pct=None if captured is None else round(captured, 1),
        premium_received=round(received, 4),
        cost_to_close=round(cost, 4),
        close_basis=close_basis,
        remaining_per_day=round(per_day, 6),
    )


def manage_short(
    p: Position,
    quotes: list[OptionQuote],
    data: SymbolData,
    ctx: Context,
    basis: Basis | None = None,
) -> tuple[list[Signal], list[Rejection]]:
    """Take profit, roll, or nothing, for one short option held.

    CLOSE when at least `take_profit_pct` of the premium received is captured (the cost to buy
    back is at most (100 - X)% of it). ROLL when DTE <= `roll_dte`, or when the option is in
    the money with DTE <= 3 x `roll_dte` (assignment risk grows near expiry): to a later
    expiry at the same or a further out-of-the-money strike (lower for a put, higher for a
    call) for a net credit (new premium - cost to close > 0), best roll score first (the
    score with the roll's APY on its net credit over the added days). When no roll earns a
    credit, a CLOSE is suggested instead, saying so. `basis` is the shares' basis for a call.
    """
    c = ctx.criteria
    held = next((q for q in quotes if matches(q, p)), None)
    key = f"{p.symbol} {p.expiry} {p.strike:g}{p.right}"
    priced = cost_to_close(held, c) if held is not None else None
    if held is None or priced is None:
        return [], [
            Rejection(
                symbol=p.symbol,
                rule="no_quote",
                message=f"held {key}: no ask price to value a buy-back",
                contract=key,
            )
        ]
    cost, close_basis = priced
    received = abs(p.avg_price)  # per share; the schema owns the x100 conversion
    captured = wheel.captured_pct(received, cost)
    days = wheel.dte(held.contract.expiry, ctx.now)
    spot = _f(data.quote.price)
    itm = (p.right == "P" and spot < float(p.strike)) or (p.right == "C" and spot > float(p.strike))
    if captured is not None and captured >= c.take_profit_pct:
        lead = f"{captured:.0f}% of the premium captured (target {c.take_profit_pct:g}%)"
        return [close_signal(p, held, data, ctx, cost, close_basis, lead)], []
    shown = "unknown" if captured is None else f"{captured:.0f}%"
    if not (days <= c.roll_dte or (itm and days <= 3 * c.roll_dte)):
        return [], [
            Rejection(
                symbol=p.symbol,
                rule="hold",
                message=(
                    f"held {key}: {shown} captured (< {c.take_profit_pct:g}%), "
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
    kind: SignalKind = "CC" if p.right == "C" else "CSP"
    call_basis = basis if p.right == "C" else None
    ev = evaluate(kind, data, later, ctx, basis=call_basis, screen=False) if later else None
    best_i = None
    if ev is not None:
        net = wheel.roll_net_credit(ev.cols.premium, cost)
        assert p.expiry is not None
        added = np.array([(q.contract.expiry - p.expiry).days for q in later], dtype=float)
        strikes = np.array([q.contract.strike for q in later], dtype=float)
        base = call_basis.value if call_basis is not None else ev.spot
        per_share = strikes if p.right == "P" else np.full(len(later), base)
        roll_yield = net / per_share
        roll_apy = wheel.annualise(roll_yield, added)
        breakeven = wheel.roll_breakeven(
            p.right,
            strikes,
            received,
            net,
            basis=base,
            basis_has_premiums=call_basis is not None and call_basis.source == "ledger",
        )
        t = np.maximum(ev.dte_days, 1e-6) / 365.0
        q_div = _f(data.fundamentals.dividend_yield) / 100.0
        q_div = 0.0 if not math.isfinite(q_div) else q_div
        with np.errstate(invalid="ignore", divide="ignore"):
            p_profit = pricing.prob_above(ev.spot, breakeven, t, ctx.rate, q_div, ev.iv) * 100.0
        roll_score = wheel.score(
            roll_apy, ev.pop, ev.cols.spread_pct, ev.cols.open_interest, ev.fpoints
        )
        # A roll keeps the same collateral: buying power and DTE-window rules do not apply.
        ok = np.isfinite(net) & (net > 0)
        if ok.any():
            idx = np.flatnonzero(ok)
            best_i = int(idx[np.argmax(roll_score[idx])])
    if ev is None or best_i is None:
        lead = f"{why}: no later expiry pays a net credit; close instead"
        return [close_signal(p, held, data, ctx, cost, close_basis, lead)], []
    skipped = filters.skipped_fundamentals(data.symbol, data.fundamentals, c)
    sig = to_signal("ROLL", data, ev, best_i, c, skipped)
    new_prem = float(ev.cols.premium[best_i])
    credit = float(net[best_i])
    sig.net_credit = round(credit, 4)
    sig.yield_pct = _r(float(roll_yield[best_i]) * 100.0, 4)
    sig.apy = _r(float(roll_apy[best_i]), 2)
    sig.apy_compounded = _r(float(wheel.annualise_compounded(roll_yield[best_i], added[best_i])), 2)
    sig.breakeven = _r(float(breakeven[best_i]), 4)
    sig.prob_profit = _r(float(p_profit[best_i]), 2)
    sig.score = float(roll_score[best_i])
    sig.tier = wheel.tier(sig.score)
    sig.captured_pct = None if captured is None else round(captured, 1)
    sig.premium_received = round(received, 4)
    sig.cost_to_close = round(cost, 4)
    sig.close_basis = close_basis
    sig.added_days = int(added[best_i])
    sig.roll_from = held.contract
    sig.quantity = max(abs(int(p.quantity)), 1)
    if p.right == "C" and sig.breakeven is not None:
        sig.if_called_return = round((sig.contract.strike - sig.breakeven) / base * 100.0, 4)
    sig.reasons[0] = (
        f"{why}: buy back {key} at {cost:.2f} ({close_basis}), sell {sig.contract.key} at "
        f"{new_prem:.2f} ({c.premium_basis}) for a net credit of {credit:.2f}: "
        f"APY {sig.apy:.1f}% simple on the net credit over the {sig.added_days} days added"
    )
    sig.reasons[1] = (
        f"position after the roll: {received:.2f} received + {credit:.2f} net = "
        f"{received + credit:.2f} a share in credits; breakeven {sig.breakeven:.2f}, "
        f"P(profit) {sig.prob_profit or 0:.0f}%, P(OTM) {sig.pop or 0:.0f}%; "
        f"|delta| {sig.abs_delta or 0:.2f}"
    )
    sig.reasons = [r for r in sig.reasons if not r.startswith("if called:")]
    if sig.if_called_return is not None:
        sig.reasons.append(f"if called: {sig.if_called_return:.1f}% on the basis {base:.2f}")
    return [sig], []
