"""Running a scan (screener → stored signals and rejections) and querying the stored signals.

A scan runs outside the request that asked for it (a thread in the web process, or the
`scan` command), reports progress on its ScanRun row, and stores its results in one
transaction: a failed scan leaves no partial signals behind.

Every scan (Scan now, `manage.py scan`, the worker's schedule) also covers the symbols the
account holds: the screener only matches positions against the symbols it is asked about,
so without them a covered call on held stock, or a roll of a held short option, would only
be found when the symbol happens to be on the watchlist.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import timedelta
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from wheeldesk.clients import ServiceCallError
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.screener import Criteria, ScanJob, ScanRequest, ScanResult
from wheeldesk.schemas.screener import Rejection as RejectionSchema
from wheeldesk.schemas.screener import Signal as SignalSchema

from wheeldesk_web.core import clients
from wheeldesk_web.preferences.models import UserConfig
from wheeldesk_web.signals import capacity
from wheeldesk_web.signals.models import Rejection, ScanRun, Signal
from wheeldesk_web.watchlist.services import default_watchlist

log = logging.getLogger(__name__)
BATCH = 5
STALE_AFTER = timedelta(minutes=15)
SHARES_PER_CALL = 100  # one covered call needs 100 shares
NOTHING_TO_SCAN = (
    "Your watchlist is empty and the account holds no stock or short options: "
    "add a few tickers first."
)


class ScanError(Exception):
    """The scan could not run; the message is one line a user can act on."""


def _criteria(user: Any, watchlist: Any) -> Criteria:
    """The user's Settings, with the scanned watchlist's own criteria on top when it has any."""
    from pydantic import ValidationError

    from wheeldesk_web.preferences.forms import human_message

    base = UserConfig.for_user(user).criteria() if user is not None else Criteria()
    if watchlist is None:
        return base
    try:
        return watchlist.criteria_over(base)
    except ValidationError as exc:
        why = human_message(exc.errors()[0]["msg"].removeprefix("Value error, "))
        raise ScanError(
            f"Watchlist {watchlist.name}'s own criteria no longer fit your Settings ({why}): "
            "change or clear them on the watchlist page."
        ) from exc


def create_scan(user: Any, trigger: str = "manual", symbols: list[str] | None = None) -> ScanRun:
    """Queue a scan of the user's default watchlist with the user's criteria (and the
    watchlist's own over them, when it has any); given `symbols`, the user's criteria."""
    ScanRun.objects.filter(status=ScanRun.RUNNING, started__lt=timezone.now() - STALE_AFTER).update(
        status=ScanRun.FAILED, error="abandoned (the process running it stopped)"
    )
    running = ScanRun.objects.filter(status=ScanRun.RUNNING, user=user).first()
    if running is not None:
        return running
    watchlist = None
    if symbols is None:
        watchlist = default_watchlist(user) if user is not None else None
        symbols = watchlist.symbols() if watchlist is not None else []
    # An empty watchlist still scans: the positions held are added when the scan runs.
    criteria = _criteria(user, watchlist)
    queued = f"{len(symbols)} symbols" if symbols else "the positions held"
    return ScanRun.objects.create(
        user=user,
        trigger=trigger,
        symbols=symbols,
        criteria=criteria.model_dump(mode="json"),
        progress=f"Queued: {queued}",
    )


def held_symbols(positions: list[Position]) -> list[str]:
    """The symbols the screener has work for in the account, de-duplicated, in the order held.

    Stock of at least 100 shares (a covered call needs 100; fewer can only ever produce puts
    on a stock the user did not ask to scan) and short options (take profit, roll).
    """
    held: list[str] = []
    for p in positions:
        stock = p.sec_type == "STK" and p.quantity >= SHARES_PER_CALL
        short_option = p.sec_type == "OPT" and p.quantity < 0
        symbol = p.symbol.strip().upper()
        if (stock or short_option) and symbol and symbol not in held:
            held.append(symbol)
    return held


def with_held(run: ScanRun, positions: list[Position]) -> list[str]:
    """The run's symbols plus those held and not already asked for, recorded on the run."""
    asked = [s.strip().upper() for s in run.symbols]
    added = [s for s in held_symbols(positions) if s not in asked]
    if added:
        run.symbols, run.held_symbols = [*asked, *added], added
        ScanRun.objects.filter(pk=run.pk).update(symbols=run.symbols, held_symbols=added)
    if not run.symbols:
        raise ScanError(NOTHING_TO_SCAN)
    return list(run.symbols)


def ledger_cost_basis() -> dict[str, float]:
    """The wheel ledger's premium-adjusted basis per share of the shares held, by symbol.

    From the open cycles holding shares whose basis the ledger knows (share-weighted when a
    symbol has several); a symbol the ledger cannot vouch for is left out, and the screener
    then falls back to IB's average cost and labels it so.
    """
    from wheeldesk_web.ledger.models import WheelCycle
    from wheeldesk_web.ledger.services import readable

    totals: dict[str, tuple[float, float]] = {}
    rows = WheelCycle.objects.exclude(state="closed").filter(
        shares__gt=0, adjusted_cost_basis__isnull=False, basis_unknown=False
    )
    # A row the ledger cannot read (stored before the sanity checks) is left out, not a 500.
    for c in readable(rows.only("symbol", "shares", "adjusted_cost_basis"))[0]:
        shares, basis = float(c.shares), float(c.adjusted_cost_basis)
        if not math.isfinite(shares * basis) or basis <= 0:
            continue
        held, cost = totals.get(c.symbol.upper(), (0.0, 0.0))
        totals[c.symbol.upper()] = (held + shares, cost + shares * basis)
    return {sym: round(cost / held, 4) for sym, (held, cost) in totals.items() if held > 0}


def _progress(run: ScanRun, text: str) -> None:
    run.progress = text
    ScanRun.objects.filter(pk=run.pk).update(progress=text)


def execute_scan(run: ScanRun) -> ScanRun:
    """Run a queued scan to the end. Never raises: the outcome is on the row."""
    started = time.monotonic()
    try:
        result = _scan(run)
    except ScanError as exc:
        ScanRun.objects.filter(pk=run.pk).update(
            status=ScanRun.FAILED, error=str(exc), finished=timezone.now(), progress=""
        )
    except Exception as exc:  # a bug must still end the run, not leave it "running"
        log.exception("scan %s failed", run.pk)
        ScanRun.objects.filter(pk=run.pk).update(
            status=ScanRun.FAILED, error=f"internal error: {exc}", finished=timezone.now()
        )
    else:
        store_result(run, result, (time.monotonic() - started) * 1000)
    run.refresh_from_db()
    return run


def _scan(run: ScanRun) -> ScanResult:
    criteria = Criteria(**run.criteria)
    try:
        with clients.bridge(timeout=10.0) as bridge:
            positions = bridge.positions()
            account = bridge.account()
            working = capacity.working_sell_puts(bridge.orders())
    except ServiceCallError as exc:
        raise ScanError(f"IBKR disconnected: {exc.message}") from exc
    # the cash left to secure a new put (puts held and working take theirs first)
    cash = capacity.compute(account, positions, working)
    symbols = with_held(run, positions)
    basis = ledger_cost_basis()
    merged: ScanResult | None = None
    with clients.screener(timeout=180.0) as screener:
        for i in range(0, len(symbols), BATCH):
            batch = symbols[i : i + BATCH]
            _progress(run, f"Scanning {i}/{len(symbols)} symbols: {', '.join(batch)}")

            def report(job: ScanJob, start: int = i) -> None:
                """The screener's job says how far it is: the page names each finished
                symbol as it happens (the progress partial polls every second)."""
                if job.last_symbol:
                    done = start + job.symbols_done
                    _progress(
                        run, f"Scanning {done}/{len(symbols)} symbols: {job.last_symbol} done"
                    )

            request = ScanRequest(
                symbols=batch,
                criteria=criteria,
                positions=positions,
                buying_power=account.buying_power,
                cash_capacity=float(cash.available) if cash is not None else None,
                cost_basis={k: v for k, v in basis.items() if k in batch},
            )
            try:
                result = screener.scan(request, poll_seconds=0.5, on_progress=report)
            except ServiceCallError as exc:
                if exc.unavailable:
                    raise ScanError(f"screener not answering: {exc.message}") from exc
                raise ScanError(f"screener refused the scan: {exc.message}") from exc
            if merged is None:
                merged = result
            else:
                merged.signals.extend(result.signals)
                merged.rejections.extend(result.rejections)
                merged.errors.extend(result.errors)
    _progress(run, f"Storing results for {len(symbols)} symbols")
    assert merged is not None
    return merged


def signal_row(scan: ScanRun, s: SignalSchema) -> Signal:
    c = s.contract
    return Signal(
        scan=scan,
        kind=s.kind,
        symbol=s.symbol,
        expiry=c.expiry,
        strike=c.strike,
        right=c.right,
        multiplier=c.multiplier,
        conid=c.conid,
        premium_basis=s.premium_basis,
        premium=s.premium,
        collateral=s.collateral,
        quantity=s.quantity,
        yield_pct=s.yield_pct,
        apy=s.apy,
        pop=s.pop,
        abs_delta=s.abs_delta,
        breakeven=s.breakeven,
        expected_move=s.expected_move,
        distance_pct=s.distance_pct,
        distance_em=s.distance_em,
        spread_pct=s.spread_pct,
        open_interest=s.open_interest,
        volume=s.volume,
        iv=s.iv,
        iv_rank=s.iv_rank,
        iv_percentile=s.iv_percentile,
        dte=s.dte,
        underlying_price=s.underlying_price,
        if_called_return=s.if_called_return,
        net_credit=s.net_credit,
        cost_basis=s.cost_basis,
        cost_basis_source=s.cost_basis_source or "",
        ib_avg_cost=s.ib_avg_cost,
        apy_compounded=s.apy_compounded,
        prob_profit=s.prob_profit,
        captured_pct=s.captured_pct,
        premium_received=s.premium_received,
        cost_to_close=s.cost_to_close,
        close_basis=s.close_basis or "",
        remaining_per_day=s.remaining_per_day,
        added_days=s.added_days,
        roll_from=s.roll_from.model_dump(mode="json") if s.roll_from else None,
        skipped=list(s.skipped),
        pricing_model=s.pricing_model or "",
        bid=s.bid,
        ask=s.ask,
        fundamentals=s.fundamentals.model_dump(mode="json"),
        earnings_before_expiry=s.earnings_before_expiry,
        score=s.score,
        tier=s.tier,
        next_tier=s.next_tier or "",
        points_to_next_tier=s.points_to_next_tier,
        next_tier_note=(s.next_tier_note or "")[:300],
        reasons=list(s.reasons),
        quote_ts=s.quote_ts,
        market_data_type=s.market_data_type or "",
    )


def _rejection_row(scan: ScanRun, r: RejectionSchema, is_error: bool) -> Rejection:
    return Rejection(
        scan=scan,
        symbol=r.symbol[:12],
        rule=r.rule[:60],
        message=r.message[:500],
        contract=(r.contract or "")[:60],
        is_error=is_error,
    )


def store_result(run: ScanRun, result: ScanResult, duration_ms: float | None = None) -> ScanRun:
    with transaction.atomic():
        Signal.objects.bulk_create([signal_row(run, s) for s in result.signals], batch_size=500)
        Rejection.objects.bulk_create(
            [_rejection_row(run, r, False) for r in result.rejections]
            + [_rejection_row(run, r, True) for r in result.errors],
            batch_size=500,
        )
        ScanRun.objects.filter(pk=run.pk).update(
            status=ScanRun.DONE,
            scan_id=result.scan_id,
            finished=timezone.now(),
            duration_ms=duration_ms if duration_ms is not None else result.duration_ms,
            signal_count=len(result.signals),
            rejection_count=len(result.rejections),
            error_count=len(result.errors),
            progress="",
            error="",
        )
    run.refresh_from_db()
    return run


def _thread_main(run_pk: int) -> None:
    close_old_connections()
    try:
        execute_scan(ScanRun.objects.get(pk=run_pk))
    finally:
        connection.close()


def start_in_background(run: ScanRun) -> None:
    """Run the scan on a thread of its own: the request returns at once, the page polls."""
    threading.Thread(
        target=_thread_main, args=(run.pk,), name=f"scan-{run.pk}", daemon=True
    ).start()


def latest_scan(user: Any) -> ScanRun | None:
    from django.db.models import Q

    return (
        ScanRun.objects.filter(Q(user=user) | Q(user__isnull=True), status=ScanRun.DONE)
        .order_by("-started")
        .first()
    )


# An order's status -> the status of the signal it came from. A draft (previewed, not sent)
# leaves the signal as it was; a cancel after a partial fill is a fill (contracts were sold).
_ORDER_TO_SIGNAL = {
    "sending": Signal.ORDERED,
    "unknown": Signal.ORDERED,
    "pending": Signal.ORDERED,
    "submitted": Signal.ORDERED,
    "partially_filled": Signal.ORDERED,
    "filled": Signal.FILLED,
    "cancelled": Signal.CANCELLED,
    "rejected": Signal.CANCELLED,
    "refused": Signal.CANCELLED,
}


def follow_order(order: Any) -> str | None:
    """Move the order's signal along with it (ordered -> filled / cancelled); the new status.

    Called where an order's status changes (`orders.services.apply_bridge_order`, the one
    merge every writer goes through: the confirm's answer, the worker's NATS consumer, its
    sync pass), so a signal never stays "seen" after its order filled.
    """
    if not getattr(order, "signal_id", None):
        return None
    status = _ORDER_TO_SIGNAL.get(order.status)
    if status == Signal.CANCELLED and order.filled and float(order.filled) > 0:
        status = Signal.FILLED
    if status is None:
        return None
    Signal.objects.filter(pk=order.signal_id).exclude(status=status).update(status=status)
    return status
