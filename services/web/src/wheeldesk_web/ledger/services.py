"""Ledger operations: store executions idempotently, rebuild cycles, answer the dashboard."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from wheeldesk.schemas.orders import Fill

from wheeldesk_web.core.clock import broker_today
from wheeldesk_web.ledger.cycles import (
    EASTERN,
    Cycle,
    LedgerEvent,
    build_cycles,
    dec,
    monthly_premium,
)
from wheeldesk_web.ledger.models import Adjustment, Execution, WheelCycle

log = logging.getLogger(__name__)


def _fill_fields(fill: Fill, source: str) -> dict:
    return {
        "order_id": fill.order_id,
        "perm_id": fill.perm_id,
        "client_order_id": fill.client_order_id or "",
        "account_id": fill.account_id or "",
        "time": fill.time,
        "symbol": fill.symbol.upper(),
        "sec_type": fill.sec_type,
        "expiry": fill.expiry,
        "strike": dec(fill.strike) if fill.strike is not None else None,
        "right": fill.right or "",
        "multiplier": fill.multiplier or (100 if fill.sec_type == "OPT" else 1),
        "side": fill.side,
        "quantity": abs(dec(fill.quantity)),
        "price": dec(fill.price),
        "commission": abs(dec(fill.commission)) if fill.commission is not None else None,
        "realized_pnl": dec(fill.realized_pnl) if fill.realized_pnl is not None else None,
        "exchange": fill.exchange or "",
        "kind": fill.kind,
        "source": source,
    }


def record_fills(
    fills: Iterable[Fill],
    source: str,
    *,
    rebuild_cycles: bool = True,
    aliases: dict[str, tuple[str, ...]] | None = None,
) -> int:
    """Store fills under one identity per execution, whatever the source (see
    `ledger.identity`); return how many executions are new to the ledger.

    A fill failing the sanity checks (`ledger.validation`) raises `InvalidFill` and nothing
    of the batch is stored: a poisoned value must never reach the pages."""
    from wheeldesk_web.ledger.identity import Incoming, record
    from wheeldesk_web.ledger.validation import check_fill

    created = 0
    symbols: set[str] = set()
    with transaction.atomic():
        for n, fill in enumerate(fills, start=1):
            check_fill(fill, n)
            fields = _fill_fields(fill, source)
            outcome = record(
                Incoming(
                    source=source,
                    exec_id=fill.exec_id,
                    aliases=(aliases or {}).get(fill.exec_id, ()),
                    fields=fields,
                )
            )
            created += outcome.created
            if outcome.changed:
                symbols.add(outcome.execution.symbol)
        if rebuild_cycles and symbols:
            rebuild(symbols)
    return created


def events_for(symbols: Iterable[str] | None = None) -> list[LedgerEvent]:
    execs = Execution.objects.all()
    adjs = Adjustment.objects.all()
    if symbols is not None:
        symbols = list(symbols)
        execs = execs.filter(symbol__in=symbols)
        adjs = adjs.filter(symbol__in=symbols)
    # IB's order for equal times: by time, then by insertion (id) — kept by a stable sort.
    # Equal times: option legs before stock legs (IB's order for a settlement), then by id,
    # so the cycles do not depend on the order the sources were imported in.
    rows = sorted(execs, key=lambda e: (e.time, e.sec_type != "OPT", e.exec_id))
    events = [e.to_event() for e in rows]
    events += [a.to_event() for a in adjs.order_by("time", "id")]
    return events


def cycles_for(symbol: str) -> list[Cycle]:
    return build_cycles(events_for([symbol.upper()]))


def _row(c: Cycle) -> WheelCycle:
    return WheelCycle(
        key=c.key,
        symbol=c.symbol,
        start=c.start,
        end=c.end,
        state=c.state,
        state_label=c.state_label,
        outcome=c.outcome,
        premium=c.premium,
        put_premium=c.put_premium,
        call_premium=c.call_premium,
        dividends=c.dividends,
        fees=c.fees,
        shares=c.shares,
        shares_acquired=c.shares_acquired,
        assignment_price=_q(c.assignment_price),
        adjusted_cost_basis=_q(c.adjusted_cost_basis),
        capital=c.capital,
        realised_pnl=_q(c.realised_pnl),
        annualised_return=_q(c.annualised_return),
        days=c.days(broker_today()),
        rolls=c.rolls,
        basis_unknown=c.basis_unknown,
        event_refs=[e.ref for e in c.events],
    )


def _q(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.0001"))


def rebuild(symbols: Iterable[str] | None = None) -> int:
    """Recompute the cycles of these tickers (all when None) in one transaction."""
    with transaction.atomic():
        if symbols is None:
            symbols = set(Execution.objects.values_list("symbol", flat=True)) | set(
                Adjustment.objects.values_list("symbol", flat=True)
            )
        symbols = sorted({s.upper() for s in symbols})
        cycles = build_cycles(events_for(symbols))
        WheelCycle.objects.filter(symbol__in=symbols).delete()
        WheelCycle.objects.bulk_create([_row(c) for c in cycles])
    return len(cycles)


def backfill(bridge, since: date | None = None) -> int:  # type: ignore[no-untyped-def]
    """Pull the bridge's executions (IB keeps about a week) and store the missing ones."""
    return record_fills(bridge.executions(since), "bridge")


# --- for the dashboard (web 1 of 2) -------------------------------------------------


def premium_collected_this_month(today: date | None = None) -> Decimal:
    """Net option premium (credits − buy-backs, before fees) traded this calendar month."""
    today = today or broker_today()
    start = datetime(today.year, today.month, 1, tzinfo=EASTERN)
    events = [
        e.to_event()
        for e in Execution.objects.filter(sec_type="OPT", time__gte=start - timedelta(days=1))
    ]
    return monthly_premium(events).get(today.strftime("%Y-%m"), Decimal(0))


def cycles_in_progress() -> list[WheelCycle]:
    """Open wheel cycles, newest first (state label, premium so far, adjusted basis)."""
    return list(WheelCycle.objects.exclude(state="closed").order_by("symbol", "-start"))


def summary_version() -> str:
    """A key that changes whenever the dashboard's wheel card may: a new day, a fill stored,
    an adjustment made, cycles rebuilt (rebuilt rows get new ids). The card is cached under
    it, so a dashboard pays one small query instead of building the card (~0.7 ms a page).
    Anything the card comes to read from must be covered here."""
    tables = {m: m._meta.db_table for m in (Execution, Adjustment, WheelCycle)}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {tables[Execution]}),"
            f" (SELECT MAX(created) FROM {tables[Execution]}),"
            f" (SELECT MAX(created) FROM {tables[Adjustment]}),"
            f" (SELECT MAX(id) FROM {tables[WheelCycle]}),"
            f" (SELECT COUNT(*) FROM {tables[WheelCycle]})"
        )
        row = cursor.fetchone()
    return ":".join(str(v) for v in (datetime.now(EASTERN).date(), *row))


def import_flex(data: bytes) -> tuple[int, int]:
    """Import a Flex trade report; returns (trades in file, newly stored). Raises FlexError."""
    from wheeldesk_web.ledger.flex import parse_flex_records

    records = parse_flex_records(data)
    fills = [r.fill for r in records]
    aliases = {r.fill.exec_id: r.aliases for r in records}
    return len(fills), record_fills(fills, "flex", aliases=aliases)
