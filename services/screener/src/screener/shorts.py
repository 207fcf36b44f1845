"""What is held, and what to do with each short option: take the profit (CLOSE), roll it to a
later expiry for a credit (ROLL), or hold.

The positions helpers decide what a scan may propose at all: covered calls only for the
uncovered lots, no new put on a contract already short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.market import OptionQuote
from wheeldesk.schemas.screener import Criteria, Rejection, Signal, SignalKind, SymbolData

from screener import filters, pricing, tiers, wheel
from screener.evaluation import Basis, Context, Evaluated, _f, _opt, _r, evaluate
from screener.sale import exercise_value_note, to_signal

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


# ---- managing one short option ------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """One short option held, its quote, and what buying it back costs now."""

    position: Position
    quote: OptionQuote
    cost: float
    close_basis: Literal["ask", "mid"]

    @property
    def received(self) -> float:
        """What it was sold for, per share (the schema owns the x100 conversion)."""
        return abs(self.position.avg_price)

    @property
    def captured(self) -> float | None:
        return wheel.captured_pct(self.received, self.cost)

    @property
    def lots(self) -> int:
        return max(abs(int(self.position.quantity)), 1)

    @property
    def key(self) -> str:
        p = self.position
        return f"{p.symbol} {p.expiry} {p.strike:g}{p.right}"


def _close_reasons(h: Held, ev: Evaluated, lead: str) -> list[str]:
    captured, received, cost = h.captured, h.received, h.cost
    days = int(ev.cols.dte[0])
    per_day = wheel.remaining_per_day(cost, days)
    mult = h.quote.contract.multiplier or 100
    captured_text = (
        f"{captured:.1f}% of the {received:.2f} premium received captured"
        if captured is not None
        else "premium received unknown (IB reported no average cost)"
    )
    return [
        lead,
        f"Buy to close {h.lots} {h.quote.contract.key} at {cost:.2f} ({h.close_basis}) = "
        f"{cost * mult * h.lots:,.2f} USD: {captured_text}",
        f"holding to expiry would earn the remaining {cost:.2f} over {max(days, 1)} days: "
        f"{per_day:.4f} a share ({per_day * mult:.2f} USD a contract) a day",
        f"P(OTM) {float(ev.pop[0]):.0f}% if held to expiry; |delta| {ev.cols.abs_delta[0]:.2f}"
        if math.isfinite(float(ev.pop[0]))
        else f"P(OTM) unknown (no IV); |delta| {ev.cols.abs_delta[0]:.2f}",
    ]


def close_signal(h: Held, data: SymbolData, ctx: Context, lead: str) -> Signal:
    """CLOSE: buy back the short option held. A purchase: no yield, APY, breakeven or payoff.

    Shows the cost to close (and which quote it is), the premium captured, and what holding
    on would still earn per day; the score is the premium captured % (`tiers` says which
    capture is which tier), the model numbers (P(OTM), delta, IV) are the held option's.
    """
    p, held, cost, captured = h.position, h.quote, h.cost, h.captured
    ev = evaluate("CC" if p.right == "C" else "CSP", data, [held], ctx, screen=False)
    days = int(ev.cols.dte[0])
    points = float(np.clip(captured if captured is not None else 0.0, 0.0, 100.0))
    rank = ev.cols.iv_rank[0]
    move = float(ev.expected_move[0])
    dist = float(ev.distance_pct[0])
    sig = Signal(
        kind="CLOSE",
        symbol=data.symbol,
        contract=held.contract,
        premium_basis=h.close_basis,
        premium=round(cost, 4),
        collateral=round(float(ev.cols.collateral[0]), 2),
        quantity=h.lots,
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
        tier=tiers.tier(points),
        reasons=_close_reasons(h, ev, lead),
        skipped=[exercise_value_note(float(ev.iv[0]))] if ev.iv_from_stock[0] else [],
        pricing_model="american" if ev.american[0] else "european",
        quote_ts=held.ts,
        market_data_type=str(held.market_data_type),
        captured_pct=None if captured is None else round(captured, 1),
        premium_received=round(h.received, 4),
        cost_to_close=round(cost, 4),
        close_basis=h.close_basis,
        remaining_per_day=round(wheel.remaining_per_day(cost, days), 6),
    )
    return tiers.mark(sig)


def _rejection(p: Position, key: str, rule: str, message: str) -> Rejection:
    return Rejection(symbol=p.symbol, rule=rule, message=f"held {key}: {message}", contract=key)


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
    quote = next((q for q in quotes if matches(q, p)), None)
    key = f"{p.symbol} {p.expiry} {p.strike:g}{p.right}"
    priced = cost_to_close(quote, c) if quote is not None else None
    if quote is None or priced is None:
        return [], [_rejection(p, key, "no_quote", "no ask price to value a buy-back")]
    h = Held(p, quote, *priced)
    captured = h.captured
    days = wheel.dte(quote.contract.expiry, ctx.now)
    spot = _f(data.quote.price)
    itm = (p.right == "P" and spot < float(p.strike)) or (p.right == "C" and spot > float(p.strike))
    if captured is not None and captured >= c.take_profit_pct:
        lead = f"{captured:.0f}% of the premium captured (target {c.take_profit_pct:g}%)"
        return [close_signal(h, data, ctx, lead)], []
    shown = "unknown" if captured is None else f"{captured:.0f}%"
    if not (days <= c.roll_dte or (itm and days <= 3 * c.roll_dte)):
        message = (
            f"{shown} captured (< {c.take_profit_pct:g}%), {days} DTE (> {c.roll_dte}), "
            f"{'in' if itm else 'out of'} the money: hold"
        )
        return [], [_rejection(p, key, "hold", message)]
    why = f"{days} DTE (roll at {c.roll_dte})" if days <= c.roll_dte else "in the money near expiry"
    sig = roll(h, quotes, data, ctx, basis if p.right == "C" else None, why)
    if sig is None:
        lead = f"{why}: no later expiry pays a net credit; close instead"
        return [close_signal(h, data, ctx, lead)], []
    return [sig], []


@dataclass
class _Rolls:
    """The numbers of rolling to each later contract, aligned with `ev.quotes`."""

    ev: Evaluated
    net: np.ndarray
    added: np.ndarray
    roll_yield: np.ndarray
    apy: np.ndarray
    breakeven: np.ndarray
    prob_profit: np.ndarray
    score: np.ndarray
    base: float


def _rolls(
    h: Held, later: list[OptionQuote], data: SymbolData, ctx: Context, call_basis: Basis | None
) -> _Rolls:
    p = h.position
    kind: SignalKind = "CC" if p.right == "C" else "CSP"
    ev = evaluate(kind, data, later, ctx, basis=call_basis, screen=False)
    net = wheel.roll_net_credit(ev.cols.premium, h.cost)
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
        h.received,
        net,
        basis=base,
        basis_has_premiums=call_basis is not None and call_basis.source == "ledger",
    )
    t = np.maximum(ev.dte_days, 1e-6) / 365.0
    q_div = _f(data.fundamentals.dividend_yield) / 100.0
    q_div = 0.0 if not math.isfinite(q_div) else q_div
    with np.errstate(invalid="ignore", divide="ignore"):
        p_profit = pricing.prob_above(ev.spot, breakeven, t, ctx.rate, q_div, ev.iv) * 100.0
    score = wheel.score(roll_apy, ev.pop, ev.cols.spread_pct, ev.cols.open_interest, ev.fpoints)
    return _Rolls(ev, net, added, roll_yield, roll_apy, breakeven, p_profit, score, base)


def roll(
    h: Held,
    quotes: list[OptionQuote],
    data: SymbolData,
    ctx: Context,
    call_basis: Basis | None,
    why: str,
) -> Signal | None:
    """The best credit roll of `h` (ROLL signal), or None when no later contract pays one."""
    p, c = h.position, ctx.criteria
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
    if not later:
        return None
    r = _rolls(h, later, data, ctx, call_basis)
    # A roll keeps the same collateral: buying power and DTE-window rules do not apply.
    ok = np.isfinite(r.net) & (r.net > 0)
    if not ok.any():
        return None
    idx = np.flatnonzero(ok)
    i = int(idx[np.argmax(r.score[idx])])
    skipped = filters.skipped_fundamentals(data.symbol, data.fundamentals, c)
    sig = to_signal("ROLL", data, r.ev, i, c, skipped)
    _as_roll(sig, h, r, i, c, why)
    return sig


def _as_roll(sig: Signal, h: Held, r: _Rolls, i: int, c: Criteria, why: str) -> None:
    """Rewrite a sale signal's numbers and words as the roll's (net credit over added days)."""
    new_prem = float(r.ev.cols.premium[i])
    credit = float(r.net[i])
    captured, received = h.captured, h.received
    sig.net_credit = round(credit, 4)
    sig.yield_pct = _r(float(r.roll_yield[i]) * 100.0, 4)
    sig.apy = _r(float(r.apy[i]), 2)
    sig.apy_compounded = _r(float(wheel.annualise_compounded(r.roll_yield[i], r.added[i])), 2)
    sig.breakeven = _r(float(r.breakeven[i]), 4)
    sig.prob_profit = _r(float(r.prob_profit[i]), 2)
    sig.score = float(r.score[i])
    sig.captured_pct = None if captured is None else round(captured, 1)
    sig.premium_received = round(received, 4)
    sig.cost_to_close = round(h.cost, 4)
    sig.close_basis = h.close_basis
    sig.added_days = int(r.added[i])
    sig.roll_from = h.quote.contract
    sig.quantity = h.lots
    tiers.mark(sig)
    if h.position.right == "C" and sig.breakeven is not None:
        sig.if_called_return = round((sig.contract.strike - sig.breakeven) / r.base * 100.0, 4)
    sig.reasons[0] = (
        f"{why}: buy back {h.key} at {h.cost:.2f} ({h.close_basis}), sell {sig.contract.key} at "
        f"{new_prem:.2f} ({c.premium_basis}) for a net credit of {credit:.2f}: "
        f"APY {sig.apy:.1f}% simple on the net credit over the {sig.added_days} days added"
    )
    sig.reasons[1] = (
        f"position after the roll: {received:.2f} received + {credit:.2f} net = "
        f"{received + credit:.2f} a share in credits; breakeven {sig.breakeven:.2f}, "
        f"P(profit) {sig.prob_profit or 0:.0f}%, P(OTM) {sig.pop or 0:.0f}%; "
        f"|delta| {sig.abs_delta or 0:.2f}"
    )
    sig.reasons = [x for x in sig.reasons if not x.startswith("if called:")]
    if sig.if_called_return is not None:
        sig.reasons.append(f"if called: {sig.if_called_return:.1f}% on the basis {r.base:.2f}")
