"""Every wheel number for a batch of option quotes, as arrays: the first step of a signal.

`evaluate` turns one symbol's quotes into aligned arrays (premium, yield, APY, P(OTM),
P(profit), breakeven, score, ...) and the first option rule each contract fails; `sale`
turns one row into a `Signal`, `shorts` manages the options already held.

IV: IB's implied volatility when the quote has it; otherwise it is solved from the option's
mid (else last) price with `pricing.implied_vol`, and the signal's reasons say "model IV".
IV rank / percentile compare the stock's implied volatility now (the latest point of IB's
daily OPTION_IMPLIED_VOLATILITY history) with the year before it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
from wheeldesk.schemas.market import OptionQuote
from wheeldesk.schemas.screener import Criteria, SignalKind, SymbolData

from screener import american, filters, pricing, wheel


def _f(value: float | None) -> float:
    return float(value) if value is not None and math.isfinite(value) else math.nan


def _opt(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _r(value: float, digits: int) -> float | None:
    return round(float(value), digits) if math.isfinite(value) else None


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


@dataclass
class _Market:
    """The quotes as arrays, plus what the model needs besides them."""

    spot: float
    strike: np.ndarray
    is_call: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    last: np.ndarray
    mult: np.ndarray
    days: np.ndarray
    dte: np.ndarray
    t: np.ndarray
    q_div: float
    ib_iv: np.ndarray
    ib_delta: np.ndarray


def _market(data: SymbolData, quotes: list[OptionQuote], now: datetime) -> _Market:
    spot = _f(data.quote.price)
    if not math.isfinite(spot):
        spot = next((q.underlying_price for q in quotes if q.underlying_price), math.nan)
    days = np.array([wheel.dte_days(q.contract.expiry, now) for q in quotes], dtype=float)
    q_div = _f(data.fundamentals.dividend_yield) / 100.0  # Fundamentals: percent
    ib_iv = np.array([_f(q.iv) for q in quotes])
    with np.errstate(invalid="ignore"):
        ib_iv = np.where(ib_iv > 0, ib_iv, np.nan)
    return _Market(
        spot=spot,
        strike=np.array([q.contract.strike for q in quotes], dtype=float),
        is_call=np.array([q.contract.right == "C" for q in quotes], dtype=bool),
        bid=np.array([_f(q.bid) for q in quotes]),
        ask=np.array([_f(q.ask) for q in quotes]),
        last=np.array([_f(q.last) for q in quotes]),
        mult=np.array([q.contract.multiplier or 100 for q in quotes], dtype=float),
        days=days,
        dte=np.array([wheel.dte(q.contract.expiry, now) for q in quotes], dtype=float),
        t=np.maximum(days, 1e-6) / 365.0,
        q_div=0.0 if not math.isfinite(q_div) else q_div,
        ib_iv=ib_iv,
        ib_delta=np.array([_f(q.delta) for q in quotes]),
    )


def _sale(
    kind: SignalKind, m: _Market, prem: np.ndarray, basis: Basis | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(yield, collateral, breakeven, strike below the basis) of selling each contract."""
    n = len(m.strike)
    below_basis = np.zeros(n, dtype=bool)
    if kind == "CC":
        base = wheel.cc_basis(m.spot, basis.value if basis else None)
        if basis is not None:
            below_basis = m.strike < basis.value
        return (
            wheel.cc_yield(prem, base),
            np.full(n, base) * m.mult,
            wheel.cc_breakeven(np.full(n, base), prem),
            below_basis,
        )
    return (
        wheel.csp_yield(prem, m.strike),
        wheel.csp_collateral(m.strike, m.mult),
        wheel.csp_breakeven(m.strike, prem),
        below_basis,
    )


def _spans_earnings(data: SymbolData, quotes: list[OptionQuote], now: datetime) -> np.ndarray:
    earn = data.fundamentals.next_earnings
    today = now.astimezone(wheel.NY).date()
    return np.array(
        [earn is not None and today <= earn <= q.contract.expiry for q in quotes], dtype=bool
    )


def _iv_delta(
    m: _Market, ref_price: np.ndarray, rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(IV, IV solved by us, signed delta): IB's where the quote has them, else the model's."""
    solved, _flag = pricing.implied_vol(ref_price, m.is_call, m.spot, m.strike, m.t, rate, m.q_div)
    iv_model = np.isnan(m.ib_iv)
    iv = np.where(iv_model, solved, m.ib_iv)
    delta = np.where(np.isfinite(m.ib_delta), m.ib_delta, pricing.greeks(
        m.is_call, m.spot, m.strike, m.t, rate, m.q_div, iv
    ).delta)  # fmt: skip
    return iv, iv_model, delta


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
    m = _market(data, quotes, ctx.now)
    spot, strike, is_call, t, q_div = m.spot, m.strike, m.is_call, m.t, m.q_div
    with np.errstate(invalid="ignore", divide="ignore"):
        mid = np.where((m.bid >= 0) & (m.ask > 0), (m.bid + m.ask) / 2.0, np.nan)
        prem = wheel.premium(m.bid, m.ask, c.premium_basis)
        prem = np.where(prem > 0, prem, np.nan)
        ref_price = np.where(np.isfinite(mid), mid, m.last)
        iv, iv_model, delta = _iv_delta(m, ref_price, ctx.rate)
        pop = pricing.prob_otm(is_call, spot, strike, t, ctx.rate, q_div, iv) * 100.0
        yield_frac, collateral, breakeven, below_basis = _sale(kind, m, prem, basis)
        prob_profit = pricing.prob_above(spot, breakeven, t, ctx.rate, q_div, iv) * 100.0
        apy = wheel.annualise(yield_frac, m.dte)
        spread = wheel.spread_pct(m.bid, m.ask)
        stock_iv, rank, pct = wheel.iv_stats(data.iv_history)
        oi = np.array([_f(q.open_interest) for q in quotes])
        f = data.fundamentals
        fpoints = wheel.fundamentals_points(
            f.roe, f.free_cash_flow, f.beta, etf=filters.is_etf(data.symbol)
        )
        ev = Evaluated(
            quotes=quotes,
            spot=spot,
            cols=filters.OptionColumns(
                dte=m.dte,
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
                spans_earnings=_spans_earnings(data, quotes, ctx.now),
                next_earnings=f.next_earnings,
            ),
            pop=pop,
            prob_profit=prob_profit,
            breakeven=breakeven,
            apy_compounded=wheel.annualise_compounded(yield_frac, m.dte),
            iv=iv,
            iv_model=iv_model,
            american=np.zeros(n, dtype=bool),
            dte_days=m.days,
            yield_frac=yield_frac,
            expected_move=wheel.expected_move(spot, iv, m.days),
            distance_pct=wheel.otm_distance_pct(spot, strike, is_call),
            score=wheel.score(apy, pop, spread, oi, fpoints),
            fpoints=fpoints,
            basis=basis if kind == "CC" else None,
            iv_percentile=pct,
        )
    ev.failures = filters.first_failures(
        ev.cols, c, buying_power=ctx.buying_power, cash_capacity=ctx.cash_capacity
    )
    ev.refine = _refiner(ev, m, ctx, ref_price, delta, stock_iv)
    if not screen:
        ev.refine(np.ones(n, dtype=bool))
    return ev


def _refiner(
    ev: Evaluated,
    m: _Market,
    ctx: Context,
    ref_price: np.ndarray,
    delta: np.ndarray,
    stock_iv: float | None,
) -> Callable[[np.ndarray], None]:
    """`Evaluated.refine`: the American model for the contracts a mask picks.

    American exercise where the European numbers mislead: early exercise can pay, and the
    contract is in the money or its IV is solved from its price; only numbers we computed
    (IB's own IV and delta come from IB's American model).
    """
    ev.iv_from_stock = np.zeros(len(ev.quotes), dtype=bool)
    ev.needs_american = american.needs_american(
        m.is_call, m.spot, m.strike, ctx.rate, m.q_div, ev.iv_model
    ) & (ev.iv_model | ~np.isfinite(m.ib_delta))
    signed = {"delta": delta}
    cols = ev.cols

    def refine(mask: np.ndarray) -> None:
        """American IV (where solved), delta and everything they feed, for `mask` only."""
        mask = mask & ev.needs_american & ~ev.american
        if not mask.any():
            return
        spot, strike, is_call, t, q_div = m.spot, m.strike, m.is_call, m.t, m.q_div
        with np.errstate(invalid="ignore", divide="ignore"):
            new_iv, model_delta = american.refine(
                mask, ref_price, is_call, spot, strike, t, ctx.rate, q_div, ev.iv, ev.iv_model,
                signed["delta"],
            )  # fmt: skip
            delta = signed["delta"] = np.where(np.isfinite(m.ib_delta), m.ib_delta, model_delta)
            # a price at its exercise value carries no IV: the stock's IV now stands in for
            # the probabilities (and the signal says so)
            no_iv = mask & np.isnan(new_iv) & np.isfinite(ref_price)
            if no_iv.any() and stock_iv is not None:
                new_iv = np.where(no_iv, stock_iv, new_iv)
                ev.iv_from_stock = ev.iv_from_stock | no_iv
            ev.pop = pricing.prob_otm(is_call, spot, strike, t, ctx.rate, q_div, new_iv) * 100.0
            ev.prob_profit = (
                pricing.prob_above(spot, ev.breakeven, t, ctx.rate, q_div, new_iv) * 100.0
            )
            ev.expected_move = wheel.expected_move(spot, new_iv, m.days)
            ev.score = wheel.score(
                cols.apy, ev.pop, cols.spread_pct, cols.open_interest, ev.fpoints
            )
        ev.iv = cols.iv = new_iv
        cols.abs_delta = np.abs(delta)
        ev.american = ev.american | mask
        ev.failures = filters.first_failures(
            cols, ctx.criteria, buying_power=ctx.buying_power, cash_capacity=ctx.cash_capacity
        )

    return refine
