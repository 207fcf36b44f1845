"""IBKR Flex Query trade report (XML) → fills, parsed with defusedxml (no entity tricks).

Reads `<Trade>` rows of the Trades section at execution level (order- and
summary-level rows would double count), and IB's `notes`/codes: `A` assignment,
`Ex` exercise, `Ep` expired. Option rows name the underlying in
`underlyingSymbol`.

Dates and times come in every format a Flex query can be set to: date `yyyyMMdd`,
`yyyy-MM-dd`, `MM/dd/yyyy`, `MM/dd/yy` or `dd-MMM-yy`; time `HHmmss` or `HH:mm:ss`;
separated by `;`, `,` or a space — in the report's (US/Eastern) time. A time that cannot
be read is refused with the value in the message; only a row with no time at all (a bare
trade date) is put at 16:00, the close, which is when book trades (expiries, assignments)
happen — and the ledger matches those with the API's by their day, not their second.

Ids: `ibExecID` is IB's execution id, the API's own; when it is empty (book trades) or the
query lacks the column, the row is named by its `tradeID` (`flex-trade:<account>:<id>`), or,
without one either, by a hash of the row (`flex-row:…`, numbered when a file holds identical
rows: two partial fills of the same size in the same second are two fills). Every numeric
field is checked against sane bounds (`ledger.validation`) before anything is stored.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date, datetime

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from wheeldesk.markettime import NY as EASTERN
from wheeldesk.schemas.orders import Fill

from wheeldesk_web.ledger.validation import (
    MAX_PRICE,
    MAX_QUANTITY,
    MULTIPLIERS,
    InvalidFill,
    check_fill,
    check_symbol,
)

MAX_BYTES = 20 * 1024 * 1024


class FlexError(ValueError):
    """The file is not a Flex trade report we can read; the message says why."""


_DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%d-%b-%y", "%d-%b-%Y")
_TIME_FORMATS = ("%H%M%S", "%H:%M:%S", "%H%M", "%H:%M")
_SPLIT = re.compile(r"^(?P<d>\S+?)(?:(?:\s*[;,]\s*|\s+|(?<=\d)T(?=\d))(?P<t>\S.*))?$")


def _date(raw: str) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise FlexError(f"unreadable date {raw!r}")


def _datetime(raw: str, fallback: str) -> datetime:
    """A row's moment in US/Eastern; refuses a time it cannot read (never a silent 16:00)."""
    raw = (raw or "").strip()
    if not raw:
        day = _date(fallback)
        if day is None:
            raise FlexError("a trade has no date")
        # A bare date: the close, where expiries and assignments happen.
        return datetime(day.year, day.month, day.day, 16, 0, tzinfo=EASTERN)
    m = _SPLIT.match(raw)
    if m is None:
        raise FlexError(f"unreadable date/time {raw!r}")
    day = _date(m["d"])
    assert day is not None
    if m["t"] is None:
        return datetime(day.year, day.month, day.day, 16, 0, tzinfo=EASTERN)
    clock = m["t"].strip()
    for fmt in _TIME_FORMATS:
        try:
            t = datetime.strptime(clock, fmt).time()
        except ValueError:
            continue
        return datetime.combine(day, t, tzinfo=EASTERN)
    raise FlexError(f"unreadable time {clock!r} in {raw!r}")


def _float(attrs: dict[str, str], name: str, default: float | None = None) -> float | None:
    raw = (attrs.get(name) or "").replace(",", "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise FlexError(f"{name}={raw[:40]!r} is not a number") from exc
    if not math.isfinite(value):
        raise FlexError(f"{name}={raw[:40]!r} is not a finite number")
    return value


@dataclass(frozen=True)
class FlexRecord:
    """One execution-level row: the fill and the other ids it is known by."""

    fill: Fill
    aliases: tuple[str, ...] = ()


def _kind(notes: str) -> str:
    codes = {c.strip() for c in notes.replace(",", ";").split(";")}
    if "A" in codes:
        return "assignment"
    if "Ex" in codes:
        return "exercise"
    if "Ep" in codes:
        return "expiration"
    return "trade"


def parse_flex(data: bytes) -> list[Fill]:
    """The report's fills (see `parse_flex_records` for the ids they are also known by)."""
    return [r.fill for r in parse_flex_records(data)]


FEED = 256 * 1024  # bytes per parser call


def _parse(data: bytes):  # type: ignore[no-untyped-def]
    """The document's root, fed to the parser a piece at a time: one call on a 16 MB file
    holds the interpreter for seconds, and every other request of this web process (a
    second user's page) would wait for it; between pieces they run."""
    parser = ElementTree.DefusedXMLParser()
    for start in range(0, len(data), FEED):
        parser.feed(data[start : start + FEED])
    return parser.close()


def parse_flex_records(data: bytes) -> list[FlexRecord]:
    if len(data) > MAX_BYTES:
        raise FlexError("file larger than 20 MB")
    try:
        root = _parse(data)
    except DefusedXmlException as exc:
        raise FlexError("the file uses XML features that are refused (entities/DTD)") from exc
    except ElementTree.ParseError as exc:
        raise FlexError(f"not well-formed XML ({exc})") from exc
    if root.tag not in ("FlexQueryResponse", "FlexStatements", "FlexStatement"):
        raise FlexError(f"not a Flex Query report (root element <{root.tag}>)")
    records: list[FlexRecord] = []
    seen_rows: dict[str, int] = {}
    for n, row in enumerate(root.iter("Trade"), start=1):
        a = dict(row.attrib)
        level = a.get("levelOfDetail", "EXECUTION").upper()
        if level not in ("EXECUTION", ""):
            continue
        category = a.get("assetCategory", "").upper()
        if category not in ("STK", "OPT"):
            continue
        try:
            records.append(_record(a, category, seen_rows))
        except (FlexError, InvalidFill, ValueError) as exc:
            raise FlexError(f"trade row {n}: {exc}") from exc
    if not records:
        raise FlexError("no stock or option trades found (is it a Trades Flex Query?)")
    return records


def _record(a: dict[str, str], category: str, seen_rows: dict[str, int]) -> FlexRecord:
    quantity = _float(a, "quantity")
    price = _float(a, "tradePrice", 0.0) or 0.0
    if not quantity:
        raise FlexError("quantity missing or zero")
    if abs(quantity) > MAX_QUANTITY:
        raise FlexError(f"quantity={quantity:g} is not a sane quantity")
    if not 0 <= price < MAX_PRICE:
        raise FlexError(f"tradePrice={price:g} is outside 0 … {MAX_PRICE:g}")
    side = "BOT" if quantity > 0 else "SLD"
    if a.get("buySell", "").upper().startswith("SELL"):
        side = "SLD"
    raw_symbol = (a.get("underlyingSymbol") if category == "OPT" else a.get("symbol")) or a.get(
        "symbol", ""
    )
    symbol = raw_symbol.split()[0].upper() if raw_symbol.strip() else ""
    if not symbol:
        raise FlexError("symbol missing")
    check_symbol(symbol)
    multiplier = _float(a, "multiplier", 100 if category == "OPT" else 1) or 1
    if multiplier not in MULTIPLIERS:
        raise FlexError(f"multiplier={a.get('multiplier', '')[:40]!r} is not 1, 10, 100 or 1000")
    when = _datetime(a.get("dateTime", ""), a.get("tradeDate", ""))
    account = (a.get("accountId") or "").strip()
    ib_exec_id = (a.get("ibExecID") or "").strip()
    trade_id = (a.get("tradeID") or a.get("transactionID") or "").strip()
    aliases: list[str] = []
    trade_alias = f"flex-trade:{account}:{trade_id}" if trade_id else ""
    if ib_exec_id:
        exec_id = ib_exec_id
        if trade_alias:
            aliases.append(trade_alias)
    elif trade_alias:
        exec_id = trade_alias
    else:
        basis = "|".join(f"{k}={a[k]}" for k in sorted(a))
        digest = hashlib.sha256(basis.encode()).hexdigest()[:24]
        k = seen_rows.get(digest, 0) + 1
        seen_rows[digest] = k
        exec_id = f"flex-row:{digest}" + (f"#{k}" if k > 1 else "")
    commission = _float(a, "ibCommission")
    fill = Fill(
        exec_id=exec_id,
        order_id=int(a["ibOrderID"])
        if a.get("ibOrderID", "").isascii()
        and a.get("ibOrderID", "").isdigit()
        and int(a["ibOrderID"]) > 0
        else None,
        account_id=account or None,
        time=when,
        symbol=symbol,
        sec_type=category,  # type: ignore[arg-type]
        expiry=_date(a.get("expiry", "")) if category == "OPT" else None,
        strike=_float(a, "strike") if category == "OPT" else None,
        right=(a.get("putCall") or None) if category == "OPT" else None,  # type: ignore[arg-type]
        multiplier=int(multiplier),
        side=side,  # type: ignore[arg-type]
        quantity=abs(quantity),
        price=price,
        commission=abs(commission) if commission is not None else None,
        realized_pnl=_float(a, "fifoPnlRealized"),
        exchange=a.get("exchange") or None,
        kind=_kind(a.get("notes", "") or a.get("code", "")),  # type: ignore[arg-type]
    )
    check_fill(fill)
    return FlexRecord(fill, tuple(aliases))
