"""IBKR Flex Query trade report (XML) → fills, parsed with defusedxml (no entity tricks).

Reads `<Trade>` rows of the Trades section at execution level (order- and
summary-level rows would double count), and IB's `notes`/codes: `A` assignment,
`Ex` exercise, `Ep` expired. Option rows name the underlying in
`underlyingSymbol`. Dates come as `20240119;103000`, `2024-01-19;10:30:00`,
`2024-01-19 10:30:00` or a bare trade date, in the report's (US/Eastern) time.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from zoneinfo import ZoneInfo

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from wheeldesk.schemas.orders import Fill

EASTERN = ZoneInfo("America/New_York")
MAX_BYTES = 20 * 1024 * 1024


class FlexError(ValueError):
    """The file is not a Flex trade report we can read; the message says why."""


def _date(raw: str) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    for fmt in ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise FlexError(f"unreadable date {raw!r}")


def _datetime(raw: str, fallback: str) -> datetime:
    raw = (raw or "").strip()
    for fmt in (
        "%Y%m%d;%H%M%S",
        "%Y-%m-%d;%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y%m%d %H%M%S",
        "%Y-%m-%dT%H:%M:%S",
    ):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=EASTERN)
        except ValueError:
            continue
    day = _date(raw.split(";")[0]) if raw else _date(fallback)
    if day is None:
        raise FlexError("a trade has no date")
    # A bare date: settle at the close, which is where expiries and assignments happen.
    return datetime(day.year, day.month, day.day, 16, 0, tzinfo=EASTERN)


def _float(attrs: dict[str, str], name: str, default: float | None = None) -> float | None:
    raw = (attrs.get(name) or "").replace(",", "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise FlexError(f"{name}={raw!r} is not a number") from exc


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
    if len(data) > MAX_BYTES:
        raise FlexError("file larger than 20 MB")
    try:
        root = ElementTree.fromstring(data)
    except DefusedXmlException as exc:
        raise FlexError("the file uses XML features that are refused (entities/DTD)") from exc
    except ElementTree.ParseError as exc:
        raise FlexError(f"not well-formed XML ({exc})") from exc
    if root.tag not in ("FlexQueryResponse", "FlexStatements", "FlexStatement"):
        raise FlexError(f"not a Flex Query report (root element <{root.tag}>)")
    fills: list[Fill] = []
    for n, row in enumerate(root.iter("Trade"), start=1):
        a = dict(row.attrib)
        level = a.get("levelOfDetail", "EXECUTION").upper()
        if level not in ("EXECUTION", ""):
            continue
        category = a.get("assetCategory", "").upper()
        if category not in ("STK", "OPT"):
            continue
        try:
            quantity = _float(a, "quantity")
            price = _float(a, "tradePrice", 0.0)
            if not quantity:
                raise FlexError("quantity missing or zero")
            side = "BOT" if quantity > 0 else "SLD"
            if a.get("buySell", "").upper().startswith("SELL"):
                side = "SLD"
            symbol = (a.get("underlyingSymbol") if category == "OPT" else a.get("symbol")) or a.get(
                "symbol", ""
            )
            symbol = symbol.split()[0].upper() if symbol.strip() else ""
            if not symbol:
                raise FlexError("symbol missing")
            when = _datetime(a.get("dateTime", ""), a.get("tradeDate", ""))
            exec_id = a.get("ibExecID") or a.get("tradeID") or a.get("transactionID")
            if not exec_id:
                basis = "|".join(f"{k}={a[k]}" for k in sorted(a))
                exec_id = "flex-" + hashlib.sha256(basis.encode()).hexdigest()[:24]
            commission = _float(a, "ibCommission")
            fills.append(
                Fill(
                    exec_id=exec_id,
                    order_id=int(a["ibOrderID"]) if a.get("ibOrderID", "").isdigit() else None,
                    account_id=a.get("accountId") or None,
                    time=when,
                    symbol=symbol,
                    sec_type=category,  # type: ignore[arg-type]
                    expiry=_date(a.get("expiry", "")) if category == "OPT" else None,
                    strike=_float(a, "strike") if category == "OPT" else None,
                    right=(a.get("putCall") or None) if category == "OPT" else None,  # type: ignore[arg-type]
                    multiplier=int(_float(a, "multiplier", 100 if category == "OPT" else 1) or 1),
                    side=side,  # type: ignore[arg-type]
                    quantity=abs(quantity),
                    price=price or 0.0,
                    commission=abs(commission) if commission is not None else None,
                    realized_pnl=_float(a, "fifoPnlRealized"),
                    exchange=a.get("exchange") or None,
                    kind=_kind(a.get("notes", "") or a.get("code", "")),  # type: ignore[arg-type]
                )
            )
        except (FlexError, ValueError) as exc:
            raise FlexError(f"trade row {n}: {exc}") from exc
    if not fills:
        raise FlexError("no stock or option trades found (is it a Trades Flex Query?)")
    return fills
