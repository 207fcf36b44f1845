"""A scan: gather market data (bridge or inline), run the pipeline, publish the result.

Per symbol the bridge is asked for: the stock (quote + fundamentals), a year of daily IV
(for IV rank / percentile), the put chain inside the criteria's DTE window and delta band
(only when the fundamentals pass: no IB lines are spent on a stock that cannot produce a
put), the call chain when at least 100 shares are held and not all covered by short calls
(covered calls are proposed only for the uncovered lots, no put already short is proposed
again), and for each short option held its
own quote plus later expiries to roll to. Symbols run concurrently, bounded by
`SCREENER_BRIDGE_CONCURRENCY`, so the bridge's pacing is never flooded by one scan.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from wheeldesk.clients import BridgeClient, ServiceCallError
from wheeldesk.errors import ServiceError
from wheeldesk.markettime import BROKER_CLOCK
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.market import OptionQuote
from wheeldesk.schemas.screener import Rejection, ScanRequest, ScanResult, Signal, SymbolData

from screener import filters, signals, wheel

log = logging.getLogger(__name__)


class BridgeUnavailable(Exception):
    """The bridge did not answer, or answered that IBKR is not connected."""


async def _fetch(call: Callable):  # type: ignore[no-untyped-def]
    """Await a bridge call; a bridge that stopped answering aborts the whole scan."""
    try:
        return await call()
    except ServiceCallError as exc:
        if exc.unavailable:
            raise BridgeUnavailable(f"gateway-bridge: {exc.message}") from exc
        raise


def _positions_for(
    symbol: str, positions: list[Position]
) -> tuple[Position | None, list[Position]]:
    lot = signals.stock_lots(positions).get(symbol)
    shorts = [p for p in signals.short_options(positions) if p.symbol.upper() == symbol]
    return lot, shorts


def _run_symbol(
    data: SymbolData,
    put_quotes: list[OptionQuote],
    call_quotes: list[OptionQuote],
    held: dict[int, list[OptionQuote]],
    lot: Position | None,
    shorts: list[Position],
    ctx: signals.Context,
    ledger_basis: float | None = None,
) -> tuple[list[Signal], list[Rejection]]:
    """The pipeline for one symbol, once its data is in hand (bridge or inline).

    `ledger_basis` is the request's `cost_basis` for the symbol (the ledger's adjusted basis
    per share); covered calls and call rolls use it, else IB's average cost, labelled.
    """
    c = ctx.criteria
    out: list[Signal] = []
    rejected: list[Rejection] = []
    price = data.quote.price
    fail = filters.fundamental_rejection(price, data.fundamentals, c, data.symbol)
    if fail is not None:
        rule, message = fail
        rejected.append(Rejection(symbol=data.symbol, rule=rule, message=f"CSP: {message}"))
    else:
        fresh, already = signals.not_already_short(put_quotes, shorts)
        for q in already:
            rejected.append(
                Rejection(
                    symbol=data.symbol,
                    rule="already_short",
                    message=f"CSP: {q.contract.key} is already short in the account "
                    "(managed by close/roll, not sold again)",
                    contract=q.contract.key,
                )
            )
        if fresh or not already:
            s, r = signals.screen("CSP", data, fresh, ctx)
            out += s
            rejected += r
    basis = signals.Basis.of(ledger_basis, lot.avg_cost if lot is not None else None)
    free = signals.uncovered_lots(lot, shorts)
    if lot is not None and free == 0:
        calls = sum(abs(int(p.quantity)) for p in shorts if p.right == "C")
        rejected.append(
            Rejection(
                symbol=data.symbol,
                rule="covered",
                message=f"CC: all {lot.quantity:g} shares are covered by the {calls} short "
                f"call{'s' if calls != 1 else ''} held: no new covered call",
            )
        )
    elif lot is not None:
        s, r = signals.screen("CC", data, call_quotes, ctx, basis=basis)
        for sig in s:
            sig.quantity = free
            sig.reasons.insert(
                1,
                f"for {free} contract{'s' if free != 1 else ''}: {lot.quantity:g} shares, "
                f"{int(lot.quantity) // wheel.CONTRACT_SIZE - free} lot(s) already covered by short calls",
            )
        out += s
        rejected += r
    for i, p in enumerate(shorts):
        s, r = signals.manage_short(p, held.get(i, []), data, ctx, basis=basis)
        out += s
        rejected += r
    return out, rejected


async def _gather_symbol(
    bridge: BridgeClient,
    symbol: str,
    request: ScanRequest,
    ctx: signals.Context,
) -> tuple[list[Signal], list[Rejection], list[Rejection]]:
    c = request.criteria
    lot, shorts = _positions_for(symbol, request.positions)
    try:
        stock = await _fetch(lambda: bridge.stock(symbol))
    except ServiceCallError as exc:
        return [], [], [Rejection(symbol=symbol, rule=exc.code, message=exc.message)]
    try:
        hist = await _fetch(lambda: bridge.history(symbol, 365, iv=True))
        iv_history = [b.close for b in hist.iv_bars]
    except ServiceCallError as exc:
        log.warning("no IV history for %s: %s", symbol, exc.message)
        iv_history = []
    data = SymbolData(
        symbol=symbol, quote=stock.quote, fundamentals=stock.fundamentals, iv_history=iv_history
    )
    errors: list[Rejection] = []

    async def chain(**kw) -> list[OptionQuote]:  # type: ignore[no-untyped-def]
        try:
            ch = await _fetch(lambda: bridge.chain(symbol, **kw))
        except ServiceCallError as exc:
            errors.append(Rejection(symbol=symbol, rule=f"chain_{exc.code}", message=exc.message))
            return []
        return ch.options

    def band(k: str) -> dict[str, float]:
        own = c.for_kind(k)
        return {
            "dte_min": own.dte_min,
            "dte_max": own.dte_max,
            "delta_min": own.delta_min,
            "delta_max": own.delta_max,
        }

    puts: list[OptionQuote] = []
    if filters.fundamental_rejection(stock.quote.price, stock.fundamentals, c, symbol) is None:
        puts = await chain(right="P", **band("CSP"))
    # no IB lines spent on calls the shares cannot cover
    calls = await chain(right="C", **band("CC")) if signals.uncovered_lots(lot, shorts) else []
    held: dict[int, list[OptionQuote]] = {}
    for i, p in enumerate(shorts):
        assert p.expiry is not None
        days = max(wheel.dte(p.expiry, ctx.now), 0)
        own = await chain(
            right=p.right, dte_min=days, dte_max=days, delta_min=0.01, delta_max=0.99, strikes=40
        )
        later = await chain(
            right=p.right,
            dte_min=days + 1,
            dte_max=min(days + max(c.dte_max, 7), 1200),
            delta_min=c.delta_min,
            delta_max=max(c.delta_max, 0.6),
        )
        held[i] = own + later
    s, r = _run_symbol(data, puts, calls, held, lot, shorts, ctx, request.cost_basis.get(symbol))
    return s, r, errors


def _inline_symbol(
    data: SymbolData, request: ScanRequest, ctx: signals.Context
) -> tuple[list[Signal], list[Rejection], list[Rejection]]:
    lot, shorts = _positions_for(data.symbol, request.positions)
    quotes = [q for ch in data.chains for q in ch.options]
    puts = [q for q in quotes if q.contract.right == "P"]
    calls = [q for q in quotes if q.contract.right == "C"]
    held = {i: [q for q in quotes if q.contract.right == p.right] for i, p in enumerate(shorts)}
    basis = request.cost_basis.get(data.symbol.strip().upper())
    s, r = _run_symbol(data, puts, calls, held, lot, shorts, ctx, basis)
    return s, r, []


def _context(request: ScanRequest, now: datetime, rate: float) -> signals.Context:
    """DTE and "today" are the broker's (IB's clock, via the bridge) unless the scan pins `now`."""
    return signals.Context(
        criteria=request.criteria,
        now=now,
        rate=rate,
        buying_power=request.buying_power,
        cash_capacity=request.cash_capacity,
    )


def _rank(all_signals: list[Signal]) -> list[Signal]:
    """Roll and close suggestions first (they are about money already at risk), then score."""
    order = {"CLOSE": 0, "ROLL": 0, "CC": 1, "CSP": 1}
    return sorted(all_signals, key=lambda s: (order[s.kind], -s.score))


async def run_scan(
    request: ScanRequest,
    *,
    bridge: BridgeClient | None,
    rate: float,
    concurrency: int = 4,
    scan_id: str | None = None,
    now: datetime | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> ScanResult:
    """Run one scan to the end. Raises BridgeUnavailable when market data cannot be had.

    `progress(done, symbol)` is called as each symbol finishes (the web names it live)."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    symbols = list(dict.fromkeys(s.strip().upper() for s in request.symbols if s.strip()))
    out: list[Signal] = []
    rejected: list[Rejection] = []
    errors: list[Rejection] = []
    done = 0
    now = now or request.now
    if request.data is not None:
        ctx = _context(request, now or BROKER_CLOCK.now(), rate)
        inline = {d.symbol.upper(): d for d in request.data}
        for symbol in symbols:
            data = inline.get(symbol)
            if data is None:
                errors.append(
                    Rejection(symbol=symbol, rule="no_data", message="no inline data for symbol")
                )
                continue
            s, r, e = _inline_symbol(data, request, ctx)
            out += s
            rejected += r
            errors += e
            done += 1
            if progress is not None:
                progress(done, symbol)
    else:
        if bridge is None:
            raise BridgeUnavailable("no gateway-bridge configured and no inline data")
        ready = await bridge.ready()
        if ready.get("status") != "ready":
            reason = ready.get("reason") or ready.get("status") or "not ready"
            raise BridgeUnavailable(f"gateway-bridge not ready: {reason}")
        if now is None:
            BROKER_CLOCK.follow((await bridge.status()).server_time)
        ctx = _context(request, now or BROKER_CLOCK.now(), rate)
        sem = asyncio.Semaphore(concurrency)

        async def one(symbol: str):  # type: ignore[no-untyped-def]
            nonlocal done
            async with sem:
                result = await _gather_symbol(bridge, symbol, request, ctx)
            done += 1
            if progress is not None:
                progress(done, symbol)
            return result

        results = await asyncio.gather(*(one(s) for s in symbols))
        for s, r, e in results:
            out += s
            rejected += r
            errors += e
    finished = datetime.now(UTC)
    return ScanResult(
        scan_id=scan_id or uuid.uuid4().hex,
        started=started,
        finished=finished,
        duration_ms=round((time.perf_counter() - t0) * 1000.0, 1),
        criteria=request.criteria,
        symbols=symbols,
        signals=_rank(out),
        rejections=rejected,
        errors=errors,
    )


def unavailable_error(exc: BridgeUnavailable) -> ServiceError:
    return ServiceError(503, "bridge_unavailable", str(exc), headers={"Retry-After": "30"})
