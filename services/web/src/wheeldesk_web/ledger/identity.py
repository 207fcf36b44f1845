"""One identity for an execution, whichever source reports it (API feed, backfill, Flex).

The sources describe the same fill in different words: the API gives IB's execution id
(`0000e0d5.6580c2d4.01.01`), a Flex report gives the same id in `ibExecID` for trades but
leaves it empty on book trades (expiries, assignments, exercises), and a Flex query may not
have the column at all (then only `tradeID`, or nothing). So an incoming fill is matched:

1. by any id it carries (IB exec id, Flex trade id) already seen — then the same fill again;
   if its contract, side, quantity or price differ, it is a *conflict*: stored as its own
   execution with `conflict_with` set, shown on the ledger page, never merged or dropped;
2. by an execution *correction*: IB's id with a higher last part (`….01` → `….02`) replaces
   the earlier version of the fill;
3. by what every source shares: account (when both know it), contract, side, quantity, price
   and time to the second (book trades: the same trading day, as Flex often stamps them
   differently from the API), kinds compatible (a fill labelled `trade` by one source may be
   an assignment in another). Two different IB exec ids are never merged (two partial fills
   of the same size in the same second are two fills), and an execution takes at most one
   version per source family (API / Flex).

Each source's version is kept in `Execution.raws`; the columns are recomputed from all of
them with a fixed preference (API for time, ids and commission; Flex for its settlement
codes), so importing any overlapping mix of sources in any order gives the same ledger.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from wheeldesk_web.ledger.cycles import EASTERN, dec
from wheeldesk_web.ledger.models import Execution, ExecutionAlias

#: Preference when sources disagree on a field nobody should disagree on (time, fees).
PRIORITY = ("nats", "bridge", "flex")
FAMILY = {"nats": "api", "bridge": "api", "flex": "flex"}
SYNTHETIC_PREFIX = "flex-"  # ids made up for Flex rows without IB's execution id
_CORRECTION = re.compile(r"^(?P<base>[^.]+(?:\.[^.]+)+)\.(?P<rev>\d{2})$")
_QUANT = Decimal("0.0001")
MERGED_FIELDS = (
    "order_id",
    "perm_id",
    "client_order_id",
    "account_id",
    "time",
    "symbol",
    "sec_type",
    "expiry",
    "strike",
    "right",
    "multiplier",
    "side",
    "quantity",
    "price",
    "commission",
    "realized_pnl",
    "exchange",
    "kind",
)


def is_ib_exec_id(exec_id: str) -> bool:
    """IB's execution ids (API or Flex `ibExecID`), as opposed to ids made up for Flex rows."""
    return bool(exec_id) and not exec_id.startswith(SYNTHETIC_PREFIX)


def correction_parts(exec_id: str) -> tuple[str, int] | None:
    """(`base`, revision) of an IB exec id `base.NN`; None when the id has no such shape."""
    m = _CORRECTION.match(exec_id or "")
    return (m["base"], int(m["rev"])) if m else None


# --- raw versions (JSON-safe dicts) -------------------------------------------------------


def to_raw(fields: dict[str, Any], exec_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"exec_id": exec_id}
    for k in MERGED_FIELDS:
        v = fields.get(k)
        if isinstance(v, Decimal):
            v = str(v)
        elif isinstance(v, datetime | date):
            v = v.isoformat()
        out[k] = v
    return out


def from_raw(raw: dict[str, Any]) -> dict[str, Any]:
    out = dict(raw)
    out["time"] = datetime.fromisoformat(raw["time"])
    out["expiry"] = date.fromisoformat(raw["expiry"]) if raw.get("expiry") else None
    for k in ("strike", "quantity", "price", "commission", "realized_pnl"):
        out[k] = Decimal(raw[k]) if raw.get(k) not in (None, "") else None
    return out


def _row_raw(ex: Execution) -> dict[str, Any]:
    """A row stored before sources were kept apart: its columns are its one version."""
    return to_raw({k: getattr(ex, k) for k in MERGED_FIELDS}, ex.exec_id)


def raws_of(ex: Execution) -> dict[str, dict[str, Any]]:
    return dict(ex.raws) if ex.raws else {ex.source: _row_raw(ex)}


def merge(ex: Execution, raws: dict[str, dict[str, Any]]) -> None:
    """Set the row's columns from its sources' versions (order-independent)."""
    ordered = [(s, from_raw(raws[s])) for s in PRIORITY if s in raws]
    ex.raws = raws
    ex.sources = ",".join(s for s, _ in ordered)
    ex.source = ordered[0][0]
    for k in MERGED_FIELDS:
        if k == "kind":
            # Flex's codes (A/Ex/Ep) are IB's own word on a book trade; the API's label is
            # inferred. Take the first non-"trade" label, Flex first.
            labels = [v["kind"] for s, v in sorted(ordered, key=lambda x: x[0] != "flex")]
            ex.kind = next((k2 for k2 in labels if k2 and k2 != "trade"), "trade")
            continue
        value = next((v[k] for _, v in ordered if v.get(k) not in (None, "")), None)
        if value is None and k in ("client_order_id", "account_id", "exchange", "right"):
            value = ""
        if k == "multiplier" and value is None:
            value = 1
        setattr(ex, k, value)
    ib_ids = [v["exec_id"] for _, v in ordered if is_ib_exec_id(v["exec_id"])]
    # The highest revision of IB's id is the current one.
    ib_ids.sort(key=lambda i: (correction_parts(i) or (i, 0))[1], reverse=True)
    ex.ib_exec_id = ib_ids[0] if ib_ids else ""
    if not ex.conflict_with_id:
        ex.exec_id = ex.ib_exec_id or min(v["exec_id"] for _, v in ordered)


# --- matching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    source: str
    exec_id: str
    aliases: tuple[str, ...]
    fields: dict[str, Any]

    @property
    def family(self) -> str:
        return FAMILY.get(self.source, self.source)

    @property
    def ib_id(self) -> str:
        return self.exec_id if is_ib_exec_id(self.exec_id) else ""

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.exec_id, *self.aliases)


def _q(v: Decimal | None) -> Decimal | None:
    return None if v is None else dec(v).quantize(_QUANT)


def same_fill(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Contract, side, quantity and price agree (what makes it the same fill)."""
    return (
        a["symbol"].upper() == b["symbol"].upper()
        and a["sec_type"] == b["sec_type"]
        and a["side"] == b["side"]
        and _q(a["quantity"]) == _q(b["quantity"])
        and _q(a["price"]) == _q(b["price"])
        and (
            a["sec_type"] != "OPT"
            or (a["expiry"], _q(a["strike"]), a["right"] or "")
            == (b["expiry"], _q(b["strike"]), b["right"] or "")
        )
    )


def _settlement_like(f: dict[str, Any]) -> bool:
    """A book trade: labelled as one, an option closed at 0, or a fill with no API order."""
    return (
        f["kind"] != "trade"
        or (f["sec_type"] == "OPT" and dec(f["price"]) == 0)
        or not f.get("order_id")
    )


def _local_day(t: datetime) -> date:
    return t.astimezone(EASTERN).date() if t.tzinfo else t.date()


def _second(t: datetime) -> datetime:
    return t.replace(microsecond=0)


def _compatible(new: dict[str, Any], old: Execution) -> tuple[int, float] | None:
    """How well a stored execution matches (lower is better), or None when it cannot."""
    oldf = {k: getattr(old, k) for k in MERGED_FIELDS}
    if not same_fill(new, oldf):
        return None
    if new.get("account_id") and old.account_id and new["account_id"] != old.account_id:
        return None
    if "trade" not in (new["kind"], old.kind) and new["kind"] != old.kind:
        return None
    gap = abs((_second(new["time"]) - _second(old.time)).total_seconds())
    if gap == 0:
        return (0, 0.0)
    if (
        _settlement_like(new)
        and _settlement_like(oldf)
        and _local_day(new["time"]) == _local_day(old.time)
    ):
        return (1, gap)
    return None


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Index:
    """What a batch of incoming fills can match, loaded in a few queries (one per 500 ids or
    tickers) instead of several per fill: a 60,000-trade Flex file stays minutes, not hours.
    Rows created or changed while the batch is recorded are kept in it."""

    def __init__(self, incoming: list[Incoming]) -> None:
        self.by_pk: dict[int, Execution] = {}
        self.alias: dict[str, Execution] = {}
        self.rows: dict[str, list[Execution]] = defaultdict(list)
        self.new_aliases: list[ExecutionAlias] = []
        self.pending: list[Execution] = []  # new rows, inserted together at flush()
        self._seq: dict[int, int] = {}  # id(obj) → creation order of a pending row
        if not incoming:
            return
        ids = sorted({i for inc in incoming for i in inc.ids if i})
        symbols = sorted({inc.fields["symbol"] for inc in incoming})
        times = [inc.fields["time"] for inc in incoming]
        lo, hi = min(times) - timedelta(days=1), max(times) + timedelta(days=1)
        for chunk in _chunks(symbols):
            for e in Execution.objects.filter(symbol__in=chunk, time__gte=lo, time__lte=hi):
                self._keep(e)
        for chunk in _chunks(ids):
            for a in ExecutionAlias.objects.filter(alias__in=chunk).select_related("execution"):
                self.alias[a.alias] = self._keep(a.execution)
            for e in Execution.objects.filter(exec_id__in=chunk, conflict_with__isnull=True):
                self.alias.setdefault(e.exec_id, self._keep(e))

    def _keep(self, e: Execution) -> Execution:
        kept = self.by_pk.get(e.pk)
        if kept is None:
            kept = self.by_pk[e.pk] = e
            self.rows[e.symbol].append(e)
        return kept

    def order(self, e: Execution) -> int:
        """Creation order (the row id, or after every stored row for a pending one): the
        tie-break that keeps matching independent of the import order."""
        return e.pk if e.pk is not None else 10**18 + self._seq[id(e)]

    def create(self, e: Execution) -> None:
        self._seq[id(e)] = len(self._seq)
        self.pending.append(e)
        self.rows[e.symbol].append(e)

    def save(self, e: Execution) -> None:
        if e.pk is not None:
            e.save()
        # a pending row is inserted by flush() as it is then

    def known(self, ids: tuple[str, ...]) -> Execution | None:
        return next((self.alias[i] for i in ids if i in self.alias), None)

    def add_aliases(self, ex: Execution, ids: tuple[str, ...]) -> None:
        for alias in ids:
            alias = alias[:120]
            if alias and alias not in self.alias:
                self.alias[alias] = ex
                self.new_aliases.append(ExecutionAlias(alias=alias, execution=ex))

    def flush(self) -> None:
        """Insert the pending rows (one statement per 500) and the new aliases."""
        if self.pending:
            Execution.objects.bulk_create(self.pending, batch_size=500)
            for e in self.pending:
                self.by_pk[e.pk] = e
            self.pending = []
        for a in self.new_aliases:
            a.execution = a.execution  # re-read the now-known id of a row inserted above
        ExecutionAlias.objects.bulk_create(self.new_aliases, ignore_conflicts=True)
        self.new_aliases = []

    def near(self, symbol: str, when: datetime) -> list[Execution]:
        lo, hi = when - timedelta(days=1), when + timedelta(days=1)
        return sorted(
            (e for e in self.rows.get(symbol, []) if lo <= e.time <= hi),
            key=lambda e: (e.time, self.order(e)),
        )


@dataclass
class Outcome:
    execution: Execution
    created: bool = False
    changed: bool = False
    conflict: bool = False


def record(inc: Incoming, index: Index | None = None) -> Outcome:
    """Store one fill from one source under its one identity (see the module docstring)."""
    if index is None:  # one fill on its own
        index = Index([inc])
        outcome = record(inc, index)
        index.flush()
        return outcome
    new = inc.fields
    # 1. an id already seen
    known = index.known(inc.ids)
    if known is not None:
        if same_fill(new, {k: getattr(known, k) for k in MERGED_FIELDS}):
            return _absorb(known, inc, index)
        # The same id for another fill: kept apart and flagged (never merged or dropped).
        index.flush()  # the clash may be with a row of this batch: give it its id
        for other in Execution.objects.filter(conflict_with=known, conflict_id=inc.exec_id):
            other = index.by_pk.get(other.pk, other)
            if same_fill(new, {k: getattr(other, k) for k in MERGED_FIELDS}):
                return _absorb(other, inc, index, aliases=False)
        n = Execution.objects.filter(conflict_with=known).count() + 1
        ex = Execution(conflict_with=known, conflict_id=inc.exec_id)
        merge(ex, {inc.source: to_raw(new, inc.exec_id)})
        ex.exec_id = f"{inc.exec_id}~conflict{n}"[:80]
        ex.save()
        index._keep(ex)
        return Outcome(ex, created=True, changed=True, conflict=True)
    # 2. a correction of a fill already stored under an earlier revision
    parts = correction_parts(inc.ib_id)
    nearby = index.near(new["symbol"], new["time"])
    if parts is not None:
        base, rev = parts
        for old in nearby:
            old_parts = correction_parts(old.ib_exec_id)
            if old.conflict_with_id or old_parts is None or old_parts[0] != base:
                continue
            if rev < old_parts[1]:  # an older revision arriving late: known, superseded
                index.add_aliases(old, inc.ids)
                return Outcome(old)
            raws = {
                s: r
                for s, r in raws_of(old).items()
                if (correction_parts(r["exec_id"]) or ("", 0))[0] != base
            }
            raws[inc.source] = to_raw(new, inc.exec_id)
            merge(old, raws)
            index.save(old)
            index.add_aliases(old, inc.ids)
            return Outcome(old, changed=True)
    # 3. the same fill told by another source
    best: tuple[tuple[int, float], int, Execution] | None = None
    for old in nearby:
        if old.conflict_with_id or old.side != new["side"] or old.sec_type != new["sec_type"]:
            continue
        if any(FAMILY.get(s, s) == inc.family for s in raws_of(old)):
            continue  # one version per source family: it is another fill
        if inc.ib_id and old.ib_exec_id:
            continue  # two different IB ids are two fills
        score = _compatible(new, old)
        if score is not None and (best is None or (score, index.order(old)) < (best[0], best[1])):
            best = (score, index.order(old), old)
    if best is not None:
        return _absorb(best[2], inc, index)
    ex = Execution()
    merge(ex, {inc.source: to_raw(new, inc.exec_id)})
    index.create(ex)
    index.add_aliases(ex, inc.ids)
    return Outcome(ex, created=True, changed=True)


def _absorb(ex: Execution, inc: Incoming, index: Index, *, aliases: bool = True) -> Outcome:
    """Add (or refresh) one source's version of a stored execution."""
    raws = raws_of(ex)
    raw = to_raw(inc.fields, inc.exec_id)
    before = raws.get(inc.source)
    if before is not None and before != raw:
        # The same source again: keep what it said first, but take what it adds (a late
        # commission report, an account id).
        raw = {k: (before[k] if before.get(k) not in (None, "") else raw.get(k)) for k in raw}
    raws[inc.source] = raw
    old_cols = {k: getattr(ex, k) for k in (*MERGED_FIELDS, "exec_id", "sources")}
    merge(ex, raws)
    changed = old_cols != {k: getattr(ex, k) for k in (*MERGED_FIELDS, "exec_id", "sources")}
    if changed or before != raw:
        index.save(ex)
    if aliases:
        index.add_aliases(ex, inc.ids)
    return Outcome(ex, changed=changed)
