"""Next earnings dates from Wall Street Horizon (WSH), IB's only source of corporate events.

IB's fundamental-ratio tick (258) carries no earnings date, so the bridge asks WSH:
`reqWshMetaData` once per connection (IB answers 10282 to event requests without it and wants
it refreshed daily), then `reqWshEventData` per stock with the filter
`{"country": "All", "watchlist": ["<conId>"], "wshe_ed": "true", ...}` from IB's today.
The answer is a JSON string; IB publishes no schema for it, so `next_earnings_from_wsh` reads
the shape public clients report (an array of events with `event_type`, `index_date` and a
`data` object holding `earnings_date` / `announce_datetime`) and ignores what it cannot read.

Earnings dates change a few times a quarter, so answers are cached for hours per conId.
Without the WSH research subscription IB answers 10276 (or 10277): that is remembered for the
whole account for a while (a timeout for a minute), so stock requests do not each pay a
failing IB round trip. `WSH_TIMEOUT` (default 4 s, under the 5 s the stock's ticks may take)
bounds the wait, queueing included, so the stock request is not slowed by WSH. A stock
request never fails because of WSH: the date is then null and `next_earnings_note` says why.
ib_insync keeps one WSH event request active at a time, hence the lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ib_insync import RequestError, WshEventData
from wheeldesk.errors import ServiceError

from gateway_bridge import metrics
from gateway_bridge.connection import EASTERN, IBSession
from gateway_bridge.limits import RateLimiter
from gateway_bridge.settings import BridgeSettings

log = logging.getLogger(__name__)

SOURCE = "Wall Street Horizon"
EARNINGS_EVENT_TYPES = {"wshe_ed", "wshe_eps"}  # earnings date; earnings announcement
NOT_SUBSCRIBED_CODES = {10276, 10277}  # news feed not allowed / permissions required
META_MISSING_CODE = 10282  # event data asked before metadata on this connection
META_MAX_AGE = 86400.0  # IB: request the metadata again once a day
LOOKAHEAD_EVENTS = 8  # a few quarters; the earliest upcoming one is the answer


@dataclass(frozen=True)
class EarningsInfo:
    """The next earnings date (None when unknown) and where it came from or why it is unknown."""

    next_date: date | None
    note: str


def _parse_day(raw: Any) -> date | None:
    """YYYYMMDD, YYYY-MM-DD, or WSH's `YYYYMMDDTHHMMSS+0000` (converted to New York's date)."""
    if not isinstance(raw, str | int):
        return None
    text = str(raw).strip()
    try:
        if "T" in text and len(text) > 9:
            moment = datetime.strptime(text, "%Y%m%dT%H%M%S%z")
            return moment.astimezone(EASTERN).date()
        if len(text) == 10 and text[4] == "-":
            return date.fromisoformat(text)
        if len(text) == 8 and text.isdigit():
            return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None
    return None


def _events(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, dict):
        payload = payload.get("events", payload.get("data", [payload]))
    if not isinstance(payload, list):
        return []
    return [e for e in payload if isinstance(e, dict)]


def _event_con_id(event: dict[str, Any]) -> str | None:
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    company = data.get("company") if isinstance(data.get("company"), dict) else {}
    raw = event.get("conid") or data.get("conid") or company.get("conid")
    return str(raw) if raw not in (None, "") else None


def _event_day(event: dict[str, Any]) -> date | None:
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    for raw in (data.get("earnings_date"), event.get("index_date"), data.get("announce_datetime")):
        day = _parse_day(raw)
        if day is not None:
            return day
    return None


def next_earnings_from_wsh(
    data_json: str, con_id: int, today: date
) -> tuple[date, dict[str, Any]] | None:
    """The earliest earnings event of `con_id` on or after `today` in a WSH answer."""
    try:
        payload = json.loads(data_json) if data_json else []
    except (TypeError, ValueError):
        return None
    found: list[tuple[date, dict[str, Any]]] = []
    for event in _events(payload):
        if str(event.get("event_type", "")).lower() not in EARNINGS_EVENT_TYPES:
            continue
        owner = _event_con_id(event)
        if owner is not None and owner != str(con_id):
            continue
        day = _event_day(event)
        if day is not None and day >= today:
            found.append((day, event))
    return min(found, key=lambda x: x[0]) if found else None


def describe(event: dict[str, Any]) -> str:
    """`Wall Street Horizon (Confirmed, AMC)`: the source plus what WSH says of the date."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    details = [
        str(v)
        for v in (data.get("earnings_date_status"), data.get("time_of_day"))
        if isinstance(v, str) and v
    ]
    return f"{SOURCE} ({', '.join(details)})" if details else SOURCE


class Earnings:
    """Next earnings per conId from WSH: cached, paced, serialised, never raising."""

    def __init__(self, settings: BridgeSettings, session: IBSession, limiter: RateLimiter) -> None:
        self.settings = settings
        self.session = session
        self.limiter = limiter
        self.requests = 0
        self._cache: dict[int, tuple[float, EarningsInfo]] = {}
        self._inflight: dict[int, asyncio.Future[EarningsInfo]] = {}
        self._unavailable: tuple[float, EarningsInfo] | None = None
        self._meta_at: float | None = None
        # ib_insync keeps our last WSH metadata request "active" (its id is not public):
        # whether we left one so, to cancel it on a paced slot before asking again
        self._meta_active = False
        self._lock = asyncio.Lock()
        session.on_connected(self._forget_metadata)

    @property
    def ib(self):  # type: ignore[no-untyped-def]
        return self.session.ib

    def _forget_metadata(self) -> None:
        """A new connection: IB forgot the metadata request, and the subscription may differ."""
        self._meta_at = None
        self._meta_active = False  # ib_insync resets its request ids with the connection
        self._unavailable = None

    def clear(self) -> None:
        self._cache.clear()
        self._unavailable = None

    async def next_for(self, con_id: int) -> EarningsInfo:
        """The next earnings date of one stock (cached; concurrent asks share one request)."""
        now = time.monotonic()
        hit = self._cache.get(con_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        if self._unavailable is not None and self._unavailable[0] > now:
            return self._unavailable[1]
        inflight = self._inflight.get(con_id)
        if inflight is not None:
            return await asyncio.shield(inflight)
        fut: asyncio.Future[EarningsInfo] = asyncio.get_running_loop().create_future()
        self._inflight[con_id] = fut
        try:
            info = await self._fetch(con_id)
        except Exception as exc:  # never fail the stock request over an earnings date
            log.warning("earnings for conId %s failed", con_id, exc_info=True)
            info = EarningsInfo(None, f"{SOURCE} request failed: {type(exc).__name__}")
        finally:
            self._inflight.pop(con_id, None)
        fut.set_result(info)
        return info

    async def _fetch(self, con_id: int) -> EarningsInfo:
        retry = self.settings.earnings_retry_seconds
        try:
            # waiting behind other symbols' WSH requests counts against the same timeout
            await asyncio.wait_for(self._lock.acquire(), self.settings.wsh_timeout)
            try:
                if self._unavailable is not None and self._unavailable[0] > time.monotonic():
                    return self._unavailable[1]
                today = self.session.today()
                raw = await self._events(con_id, today)
            finally:
                self._lock.release()
        except RequestError as exc:
            if exc.code in NOT_SUBSCRIBED_CODES:
                info = EarningsInfo(
                    None,
                    f"no {SOURCE} subscription on this IBKR account (IB {exc.code}: {exc.message})",
                )
                self._unavailable = (time.monotonic() + retry, info)
                log.warning("earnings dates unavailable: %s", info.note)
                return info
            info = EarningsInfo(None, f"{SOURCE} request refused (IB {exc.code}: {exc.message})")
            self._cache[con_id] = (time.monotonic() + retry, info)
            return info
        except TimeoutError:
            # IB not answering WSH: the next minute's stocks skip it rather than each wait
            timeout = self.settings.wsh_timeout
            info = EarningsInfo(None, f"IBKR did not answer the {SOURCE} request in {timeout:g} s")
            self._unavailable = (time.monotonic() + min(retry, 60.0), info)
            return info
        except ServiceError as exc:  # not connected: nothing to remember
            return EarningsInfo(None, f"{SOURCE} not asked: {exc.message}")
        found = next_earnings_from_wsh(raw, con_id, today)
        if found is None:
            info = EarningsInfo(None, f"{SOURCE} lists no upcoming earnings date")
        else:
            info = EarningsInfo(found[0], describe(found[1]))
        self._cache[con_id] = (time.monotonic() + self.settings.earnings_cache_seconds, info)
        return info

    async def _events(self, con_id: int, today: date) -> str:
        """One WSH event request (metadata first when this connection has none yet)."""
        if self._meta_at is None or time.monotonic() - self._meta_at > META_MAX_AGE:
            await self._metadata()
        try:
            return await self._event_request(con_id, today)
        except RequestError as exc:
            if exc.code != META_MISSING_CODE:
                raise
        await self._metadata()
        return await self._event_request(con_id, today)

    async def _metadata(self) -> None:
        ib = self.ib
        await self._paced()
        if self._meta_active:  # IB has answered it; cancelling is one more paced message
            ib.cancelWshMetaData()
            self._meta_active = False
            await self._paced()
        self._meta_active = True
        try:
            await asyncio.wait_for(ib.getWshMetaDataAsync(), self.settings.wsh_timeout)
        except TimeoutError:
            self._abandon(ib.cancelWshMetaData)
            self._meta_active = False
            raise
        self._meta_at = time.monotonic()

    async def _event_request(self, con_id: int, today: date) -> str:
        ib = self.ib
        flt = {
            "country": "All",
            "watchlist": [str(con_id)],
            "limit_region": LOOKAHEAD_EVENTS,
            "limit": LOOKAHEAD_EVENTS,
            "wshe_ed": "true",
        }
        request = WshEventData(
            filter=json.dumps(flt),
            startDate=today.strftime("%Y%m%d"),
            endDate=(today + timedelta(days=400)).strftime("%Y%m%d"),
        )
        await self._paced()
        self.requests += 1
        try:
            # ib_insync cancels the request itself after the answer (one more message)
            return await asyncio.wait_for(
                ib.getWshEventDataAsync(request), self.settings.wsh_timeout
            )
        except TimeoutError:
            self._abandon(ib.cancelWshEventData)
            raise

    async def _paced(self) -> None:
        self.session.require_ready()
        await self.limiter.acquire()
        metrics.IB_REQUESTS.labels("wsh").inc()

    def _abandon(self, cancel: Any) -> None:
        """Give up a request IB did not answer: tell IB (when connected).

        ib_insync's public cancel sends IB the cancel of its active WSH request and forgets
        its id; its future (cancelled by the timeout) stays in ib_insync's request table
        until the connection resets it: one entry per timeout, and a timeout makes the next
        minute skip WSH (`_unavailable`), so at most one a minute.
        """
        if self.ib.isConnected():
            cancel()
