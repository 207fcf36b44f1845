"""Ledger operations: store executions idempotently, rebuild cycles, answer the dashboard."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, TypeVar

from django.db import connection, models, transaction
from django.db.models import QuerySet
from wheeldesk.schemas.account import Position
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
from wheeldesk_web.ledger.locks import ledger_writer
from wheeldesk_web.ledger.models import Adjustment, Execution, PositionSnapshot, WheelCycle

if TYPE_CHECKING:
    from wheeldesk_web.ledger.flex import FlexRecord

log = logging.getLogger(__name__)
M = TypeVar("M", bound=models.Model)


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


BATCH = 250  # fills per write transaction: other users' writes wait at most one batch
# A waiting SQLite writer is retried by its busy handler at most 100 ms apart: without a pause
# that long between two of an import's write transactions, the next one takes the lock again
# first, batch after batch, and the other user's write waits for the whole import.
PAUSE_BETWEEN_WRITES = 0.1


def record_fills(
    fills: Iterable[Fill],
    source: str,
    *,
    rebuild_cycles: bool = True,
    aliases: dict[str, tuple[str, ...]] | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> int:
    """Store fills under one identity per execution, whatever the source (see
    `ledger.identity`); return how many executions are new to the ledger.

    Every fill is checked first (`ledger.validation`): one outside the sane bounds raises
    `InvalidFill` and nothing is stored. Then they are stored in batches of `BATCH`, each its
    own short write transaction (SQLite has one writer: a 60,000-trade import must not lock
    every other user out for a minute; a pause between two lets a waiting writer in), and the touched tickers' cycles are rebuilt one
    ticker per transaction. An import stopped half-way is completed by importing again: the
    fills already stored are recognised. `progress(done, stage)` hears of each batch."""
    from wheeldesk_web.ledger.identity import Incoming, Index, record
    from wheeldesk_web.ledger.validation import check_fill

    fills = list(fills)
    for n, fill in enumerate(fills, start=1):
        check_fill(fill, n)
    incoming = [
        Incoming(
            source=source,
            exec_id=fill.exec_id,
            aliases=(aliases or {}).get(fill.exec_id, ()),
            fields=_fill_fields(fill, source),
        )
        for fill in fills
    ]
    created = 0
    symbols: set[str] = set()
    for i in range(0, len(incoming), BATCH):
        if i:
            time.sleep(PAUSE_BETWEEN_WRITES)
        batch = incoming[i : i + BATCH]
        with transaction.atomic():
            ledger_writer()
            index = Index(batch)
            for inc in batch:
                outcome = record(inc, index)
                created += outcome.created
                if outcome.changed:
                    symbols.add(outcome.execution.symbol)
            index.flush()
        if progress:
            progress(i + len(batch), "storing trades")
    if rebuild_cycles and symbols:
        if progress:
            progress(len(incoming), f"rebuilding the cycles of {len(symbols)} ticker(s)")
        for n, symbol in enumerate(sorted(symbols)):
            if n:
                time.sleep(PAUSE_BETWEEN_WRITES)
                if progress:  # still alive (imports.STALE_AFTER)
                    progress(len(incoming), f"rebuilding the cycles of {len(symbols)} ticker(s)")
            rebuild([symbol])
    return created


READ_ERRORS = (InvalidOperation, ValueError, TypeError, OverflowError, ArithmeticError)


def readable(qs: QuerySet[M]) -> tuple[list[M], list[int]]:
    """The rows of `qs` that can be read, and the ids of those that cannot (a value stored
    before the sanity checks existed makes Django's decimal conversion raise): a page shows
    the bad rows as invalid instead of failing for everyone."""
    try:
        return list(qs), []
    except READ_ERRORS:
        pass
    good: list[M] = []
    bad: list[int] = []
    for pk in qs.values_list("pk", flat=True):
        try:
            good.append(qs.model.objects.get(pk=pk))
        except READ_ERRORS:
            bad.append(pk)
    return good, bad


def valid_executions(
    symbols: Iterable[str] | None = None,
) -> tuple[list[Execution], list[tuple[int, str]]]:
    """Executions the ledger can count, and (id, why) of the stored rows it cannot."""
    execs = Execution.objects.all()
    if symbols is not None:
        execs = execs.filter(symbol__in=list(symbols))
    rows, unreadable = readable(execs)
    invalid = [(pk, "unreadable value") for pk in unreadable]
    good = []
    for e in rows:
        why = e.problem()
        if why:
            invalid.append((e.pk, why))
        else:
            good.append(e)
    return good, invalid


def events_for(symbols: Iterable[str] | None = None) -> list[LedgerEvent]:
    adjs = Adjustment.objects.all()
    if symbols is not None:
        symbols = list(symbols)
        adjs = adjs.filter(symbol__in=symbols)
    execs, _invalid = valid_executions(symbols)
    # Equal times: option legs before stock legs (IB's order for a settlement), then by id,
    # so the cycles do not depend on the order the sources were imported in.
    rows = sorted(execs, key=lambda e: (e.time, e.sec_type != "OPT", e.exec_id))
    events = [e.to_event() for e in rows]
    events += [a.to_event() for a in readable(adjs.order_by("time", "id"))[0]]
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
        ledger_writer()
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
    rows, _bad = readable(
        Execution.objects.filter(sec_type="OPT", time__gte=start - timedelta(days=1))
    )
    events = [e.to_event() for e in rows if not e.problem()]
    return monthly_premium(events).get(today.strftime("%Y-%m"), Decimal(0))


def cycles_in_progress(today: date | None = None) -> list[WheelCycle]:
    """Open wheel cycles, newest first (state label, premium so far, adjusted basis), each
    with `days_now`, its days as of today on the broker's clock (the stored `days` froze at
    the last rebuild). Rows that cannot be read are left out (the ledger page lists them)."""
    rows, _bad = readable(WheelCycle.objects.exclude(state="closed").order_by("symbol", "-start"))
    day = today or broker_today()
    for row in rows:
        row.days_now = row.days_on(day)  # type: ignore[attr-defined]
    return rows


def invalid_rows() -> int:
    """How many stored executions/cycles the pages cannot count (listed on the ledger page)."""
    _rows, bad_cycles = readable(WheelCycle.objects.all())
    _good, bad_execs = valid_executions()
    return len(bad_cycles) + len(bad_execs)


def summary_version() -> str:
    """A key that changes whenever the dashboard's wheel card may: a new day, a fill stored,
    an adjustment made, cycles rebuilt (rebuilt rows get new ids). The card is cached under
    it, so a dashboard pays one small query instead of building the card (~0.7 ms a page).
    Anything the card comes to read from must be covered here."""
    tables = {m: m._meta.db_table for m in (Execution, Adjustment, WheelCycle, PositionSnapshot)}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {tables[Execution]}),"
            f" (SELECT MAX(created) FROM {tables[Execution]}),"
            f" (SELECT MAX(created) FROM {tables[Adjustment]}),"
            f" (SELECT MAX(id) FROM {tables[WheelCycle]}),"
            f" (SELECT COUNT(*) FROM {tables[WheelCycle]}),"
            f" (SELECT MAX(id) FROM {tables[PositionSnapshot]})"
        )
        row = cursor.fetchone()
    # Executions merged in place (a late commission, a correction) rebuild their cycles,
    # which get new ids; a sync's positions get a new snapshot id.
    return ":".join(str(v) for v in (broker_today(), *row))


def import_flex(data: bytes) -> tuple[int, int]:
    """Import a Flex trade report; returns (trades in file, newly stored). Raises FlexError."""
    from wheeldesk_web.ledger.flex import parse_flex_records

    return store_flex(parse_flex_records(data))


def store_flex(
    records: list[FlexRecord], progress: Callable[[int, str], None] | None = None
) -> tuple[int, int]:
    """Store a parsed Flex report's rows; returns (trades in file, newly stored)."""
    fills = [r.fill for r in records]
    aliases = {r.fill.exec_id: r.aliases for r in records}
    added = record_fills(fills, "flex", aliases=aliases, progress=progress)
    retire_redundant_lots()
    return len(fills), added


# --- ledger ↔ broker reconciliation ---------------------------------------------------------

ContractKey = tuple[str, str, date | None, Decimal | None, str]


def contract_key(
    symbol: str,
    sec_type: str,
    expiry: date | None = None,
    strike: object = None,
    right: str | None = None,
) -> ContractKey:
    if sec_type != "OPT":
        return (symbol.upper(), "STK", None, None, "")
    return (symbol.upper(), "OPT", expiry, dec(strike).normalize(), right or "")


def describe_contract(key: ContractKey) -> str:
    symbol, sec_type, expiry, strike, right = key
    if sec_type != "OPT":
        return symbol
    return f"{symbol} {expiry:%Y-%m-%d} {format(strike, 'f')}{right}"


def ledger_open_quantities() -> dict[ContractKey, Decimal]:
    """Shares / contracts the ledger holds open per contract (short options negative)."""
    qty: dict[ContractKey, Decimal] = defaultdict(Decimal)
    for e in events_for(None):
        if e.kind == "dividend":
            continue
        key = contract_key(e.symbol, e.sec_type, e.expiry, e.strike, e.right)
        qty[key] += e.quantity if e.side == "BOT" else -e.quantity
    return {k: v for k, v in qty.items() if v}


@dataclass(frozen=True)
class Difference:
    """One contract where the ledger and the account disagree."""

    key: ContractKey
    ledger: Decimal
    account: Decimal

    @property
    def contract(self) -> str:
        return describe_contract(self.key)

    @property
    def symbol(self) -> str:
        return self.key[0]

    @property
    def message(self) -> str:
        unit = "" if self.key[1] == "STK" else " ×"
        return (
            f"ledger: {self.ledger.normalize():f}{unit} {self.contract} · "
            f"account: {self.account.normalize():f} — import history or add an adjustment"
        )


def _snapshot_quantities(snapshot: PositionSnapshot) -> dict[ContractKey, Decimal]:
    out: dict[ContractKey, Decimal] = defaultdict(Decimal)
    for p in snapshot.positions:
        expiry = date.fromisoformat(p["expiry"]) if p.get("expiry") else None
        key = contract_key(p["symbol"], p["sec_type"], expiry, p.get("strike"), p.get("right"))
        out[key] += dec(p["quantity"])
    return {k: v for k, v in out.items() if v}


def ledger_differences() -> list[Difference]:
    """The ledger's open quantities against the account's positions at the last sync, one row
    per contract that differs (empty before any sync). For the ledger page and the dashboard."""
    snapshot = PositionSnapshot.objects.first()
    if snapshot is None:
        return []
    ledger = ledger_open_quantities()
    account = _snapshot_quantities(snapshot)
    return [
        Difference(k, ledger.get(k, Decimal(0)), account.get(k, Decimal(0)))
        for k in sorted(set(ledger) | set(account), key=describe_contract)
        if ledger.get(k, Decimal(0)) != account.get(k, Decimal(0))
    ]


def sync_positions(positions: list[Position], taken: datetime) -> list[Adjustment]:
    """Record the account's positions (what `ledger_differences` compares with); at the first
    sync, give what the ledger has no opening for an opening lot at IB's average cost, marked
    `from_broker` and editable. Returns the lots created. Call after the executions are
    backfilled, so fills already made are not taken for pre-history."""
    first = not PositionSnapshot.objects.exists()
    with transaction.atomic():
        PositionSnapshot.objects.all().delete()
        PositionSnapshot.objects.create(
            taken=taken,
            account_id=positions[0].account_id if positions else "",
            positions=[p.model_dump(mode="json") for p in positions],
        )
        if not first:
            retire_redundant_lots()
            return []
        ledger = ledger_open_quantities()
        lots: list[Adjustment] = []
        for p in positions:
            key = contract_key(p.symbol, p.sec_type, p.expiry, p.strike, p.right)
            missing = dec(p.quantity) - ledger.get(key, Decimal(0))
            long_stock = p.sec_type == "STK" and missing > 0
            short_option = p.sec_type == "OPT" and missing < 0
            if not (long_stock or short_option) or p.avg_cost is None:
                continue
            price = dec(round(p.avg_price, 4))
            if not 0 <= price < Decimal("1e7") or abs(missing) > Decimal("1e7"):
                continue
            # Held before the open cycle of the ticker (a call sold on these shares), or now.
            open_cycle = next((c for c in cycles_for(key[0]) if not c.closed), None)
            when = min(taken, open_cycle.start) if open_cycle else taken
            lots.append(
                Adjustment.objects.create(
                    kind="lot" if long_stock else "option",
                    symbol=key[0],
                    time=when - timedelta(seconds=1),
                    quantity=abs(missing),
                    price=price,
                    right=key[4],
                    strike=key[3],
                    expiry=key[2],
                    from_broker=True,
                    note="Opening lot from IBKR's average cost at the first sync (edit if you "
                    "know the real cost).",
                )
            )
        if lots:
            rebuild({lot.symbol for lot in lots})
    return lots


def _lot_key(a: Adjustment) -> tuple[ContractKey, Decimal]:
    """The contract an opening lot stands for, and its signed quantity."""
    if a.kind == "option":
        return contract_key(a.symbol, "OPT", a.expiry, a.strike, a.right), -a.quantity
    return contract_key(a.symbol, "STK"), a.quantity


def retire_redundant_lots() -> list[Adjustment]:
    """Remove the opening lots taken from IB's average cost once the ledger's own history
    explains the position without them (older history imported from Flex after the first
    sync): a stand-in must not double the shares it stood in for. Lots entered by hand are
    never touched. Returns the lots removed."""
    snapshot = PositionSnapshot.objects.first()
    lots = list(Adjustment.objects.filter(from_broker=True))
    if snapshot is None or not lots:
        return []
    account = _snapshot_quantities(snapshot)
    ledger = ledger_open_quantities()
    retired = []
    for lot in lots:
        key, signed = _lot_key(lot)
        without = ledger.get(key, Decimal(0)) - signed
        held = account.get(key, Decimal(0))
        explained = without >= held if signed > 0 else without <= held
        if explained:
            ledger[key] = without
            retired.append(lot)
    if retired:
        symbols = {lot.symbol for lot in retired}
        Adjustment.objects.filter(pk__in=[lot.pk for lot in retired]).delete()
        rebuild(symbols)
        log.info("opening lots no longer needed (history imported): %s", sorted(symbols))
    return retired
