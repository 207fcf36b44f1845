"""Wall Street Horizon corporate events: reqWshMetaData / reqWshEventData and their cancels.

Real IB serves earnings dates only through WSH (the fundamental-ratio tick 258 carries none),
and only to accounts holding the WSH research subscription; without it both requests get
error 10276. The simulator models the one event type Wheeldesk reads, the earnings date
(`wshe_ed`), as a deterministic quarterly calendar per stock, relative to the simulator's
start day (`universe.json` `earnings_in_days` = days from that day to the next report; 0 = no
earnings, e.g. an ETF), moved off weekends and repeated every 91 days.

IB publishes no schema for the event JSON. The answer is shaped as public client code reads
it: a JSON array of events, each `{"event_type", "index_date" (YYYYMMDD), "conid",
"data": {"company": {...}, "earnings_date", "announce_datetime", "time_of_day", ...}}`; the
metadata is an object holding the two arrays the TWS API documentation names, `event_types`
and `filters`.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from tws_sim.contracts import StockInfo
from tws_sim.market import ET
from tws_sim.protocol import encode

if TYPE_CHECKING:
    from tws_sim.engine import Engine
    from tws_sim.session import Session

WSH_META_DATA = 104  # incoming message ids as ib_insync's decoder numbers them
WSH_EVENT_DATA = 105
UNSET_INTEGER = "2147483647"  # ib_insync sends WshEventData's unset ints verbatim
QUARTER_DAYS = 91  # 13 weeks: the weekday of a report stays the same
PAST_QUARTERS = 4
FUTURE_QUARTERS = 4
MAX_EVENTS = 100  # TWS caps an event request at 100 events
CONFIRMED_WITHIN_DAYS = 30  # nearer reports are "Confirmed", later ones projected

NOT_ALLOWED = (10276, "News feed is not allowed")
NOT_REQUESTED = (10282, "WSH metadata not requested")
INVALID = (10309, "Invalid WSH event data request.")

METADATA = {
    "event_types": [
        {"tag": "wshe_ed", "name": "Earnings Date", "group": "Earnings"},
    ],
    "filters": [
        {"tag": "country", "name": "Country", "type": "string", "values": ["All", "US"]},
        {"tag": "watchlist", "name": "Watchlist", "type": "list of conIds (strings)"},
        {"tag": "limit", "name": "Limit", "type": "integer"},
        {"tag": "limit_region", "name": "Limit per region", "type": "integer"},
    ],
}


@dataclass
class WshState:
    """Per connection: whether this client fetched the metadata (IB wants it first)."""

    meta_requested: bool = False


_states: weakref.WeakKeyDictionary[Session, WshState] = weakref.WeakKeyDictionary()


def _state(session: Session) -> WshState:
    state = _states.get(session)
    if state is None:
        state = _states[session] = WshState()
    return state


def _stable_u(*parts: object) -> float:
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def earnings_dates(stock: StockInfo, start_day: date) -> list[date]:
    """The stock's report dates: four past quarters and four ahead of `start_day`'s next one."""
    if stock.earnings_in_days <= 0:
        return []
    first = start_day + timedelta(days=stock.earnings_in_days)
    while first.weekday() >= 5:  # reports fall on weekdays: a weekend moves to Monday
        first += timedelta(days=1)
    return [
        first + timedelta(days=QUARTER_DAYS * k) for k in range(-PAST_QUARTERS, FUTURE_QUARTERS + 1)
    ]


def earnings_event(stock: StockInfo, day: date, today: date) -> dict:
    """One `wshe_ed` event as the JSON array element described in the module docstring."""
    after_close = _stable_u("wsh-time", stock.symbol) < 0.5
    hour_utc = 21 if after_close else 11  # ~17:00 / 07:00 New York
    fiscal_q = (day.month - 1) // 3 or 4  # a report covers the quarter before it
    fiscal_y = day.year if day.month > 3 else day.year - 1
    status = "Confirmed" if (day - today).days <= CONFIRMED_WITHIN_DAYS else "Unconfirmed"
    con_id = str(stock.contract.con_id)
    ymd = day.strftime("%Y%m%d")
    return {
        "event_type": "wshe_ed",
        "index_date": ymd,
        "conid": con_id,
        "data": {
            "company": {"contract": stock.symbol, "name": stock.name, "conid": con_id},
            "earnings_date": ymd,
            "announce_datetime": f"{ymd}T{hour_utc:02d}0000+0000",
            "time_of_day": "AMC" if after_close else "BMO",
            "earnings_date_status": status if day >= today else "Reported",
            "fiscal_quarter": f"Q{fiscal_q}",
            "fiscal_year": str(fiscal_y),
        },
    }


def _ymd(raw: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    return datetime.strptime(raw, "%Y%m%d").date()


def _limit(*raws: object) -> int:
    out = MAX_EVENTS
    for raw in raws:
        if raw in (None, "", UNSET_INTEGER):
            continue
        value = int(str(raw))
        if value > 0:
            out = min(out, value)
    return out


def select_events(
    engine: Engine,
    con_ids: list[int],
    wants_earnings: bool,
    start: date | None,
    end: date | None,
    limit: int,
) -> list[dict]:
    """The earnings events of the given stocks inside [start, end], oldest first."""
    market = engine.market
    today = market.now().astimezone(ET).date()
    events: list[tuple[date, str, dict]] = []
    if wants_earnings:
        for con_id in con_ids:
            stock = next((s for s in market.stocks if s.contract.con_id == con_id), None)
            if stock is None:
                continue  # WSH simply has nothing for an unknown or non-stock conId
            for day in earnings_dates(stock, market.start_day):
                if (start is None or day >= start) and (end is None or day <= end):
                    events.append((day, stock.symbol, earnings_event(stock, day, today)))
    events.sort(key=lambda e: (e[0], e[1]))
    return [e for _, _, e in events[:limit]]


# --- request handlers (dispatch-table entries in session.py) ---------------------------------


def req_meta_data(session: Session, f: list[str]) -> None:
    """100 reqWshMetaData: reqId."""
    req_id = int(f[1])
    if not session.engine.faults.wsh_subscribed:
        session.error(req_id, *NOT_ALLOWED)
        return
    _state(session).meta_requested = True
    session.send(encode(WSH_META_DATA, req_id, json.dumps(METADATA)))


def cancel_meta_data(session: Session, f: list[str]) -> None:
    """101 cancelWshMetaData: the answer was complete already; nothing to stop."""


def req_event_data(session: Session, f: list[str]) -> None:
    """102 reqWshEventData: reqId, conId, filter, fillWatchlist, fillPortfolio,
    fillCompetitors, startDate, endDate, totalLimit (server version >= 173)."""
    req_id = int(f[1])
    if not session.engine.faults.wsh_subscribed:
        session.error(req_id, *NOT_ALLOWED)
        return
    if not _state(session).meta_requested:
        session.error(req_id, *NOT_REQUESTED)
        return
    raw_con_id = f[2].strip()
    raw_filter = f[3].strip() if len(f) > 3 else ""
    has_con_id = raw_con_id not in ("", "0", UNSET_INTEGER)
    if has_con_id == bool(raw_filter):  # IB takes a conId or a filter, not both, not neither
        session.error(req_id, *INVALID)
        return
    try:
        start = _ymd(f[7]) if len(f) > 7 else None
        end = _ymd(f[8]) if len(f) > 8 else None
        total_limit = f[9] if len(f) > 9 else None
        if has_con_id:
            con_ids, wants_earnings, limit = [int(raw_con_id)], True, _limit(total_limit)
        else:
            flt = json.loads(raw_filter)
            if not isinstance(flt, dict):
                raise ValueError("filter must be a JSON object")
            watchlist = flt.get("watchlist") or []
            if not isinstance(watchlist, list):
                raise ValueError("watchlist must be a list")
            con_ids = [int(str(c)) for c in watchlist]
            wants_earnings = str(flt.get("wshe_ed", "")).lower() == "true"
            limit = _limit(total_limit, flt.get("limit"))
    except (ValueError, TypeError):
        session.error(req_id, *INVALID)
        return
    events = select_events(session.engine, con_ids, wants_earnings, start, end, limit)
    session.send(encode(WSH_EVENT_DATA, req_id, json.dumps(events)))


def cancel_event_data(session: Session, f: list[str]) -> None:
    """103 cancelWshEventData: the answer was complete already; nothing to stop."""
