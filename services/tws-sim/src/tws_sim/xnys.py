"""The NYSE (XNYS) calendar the simulated market lives in: sessions, holidays, early closes.

Built once from `exchange_calendars` for a window around the simulated start (history three
years back, listed expiries a year and a bit ahead) and kept as plain dicts, because the tick
loop asks "is the market open?" several times a second and pandas lookups are slow.
US equity options trade the same regular session as the stocks (09:30–16:00 ET, 13:00 on an
early close), so one calendar serves both.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
from datetime import date, datetime, time, timedelta
from pathlib import Path

from wheeldesk.markettime import NY as ET

REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
DEMO_TIME = time(10, 30)


class Calendar:
    """Regular sessions of XNYS between `first` and `last` (inclusive), as ET datetimes."""

    def __init__(self, first: date, last: date) -> None:
        self.first, self.last = first, last
        self._hours: dict[date, tuple[datetime, datetime]] = {
            date.fromisoformat(day): (
                datetime.fromisoformat(op).astimezone(ET),
                datetime.fromisoformat(cl).astimezone(ET),
            )
            for day, op, cl in _sessions(first, last)
        }
        self._days = sorted(self._hours)

    # --- days -----------------------------------------------------------------------------

    def is_session(self, day: date) -> bool:
        return day in self._hours

    def hours(self, day: date) -> tuple[datetime, datetime] | None:
        """(open, close) in ET, or None on a weekend or holiday."""
        return self._hours.get(day)

    def is_early_close(self, day: date) -> bool:
        h = self._hours.get(day)
        return h is not None and h[1].time() < REGULAR_CLOSE

    def sessions_between(self, first: date, last: date) -> list[date]:
        """Trading days first..last inclusive."""
        lo = bisect.bisect_left(self._days, first)
        hi = bisect.bisect_right(self._days, last)
        return self._days[lo:hi]

    def session_on_or_before(self, day: date) -> date:
        """`day` if it is a trading day, else the trading day before it."""
        i = bisect.bisect_right(self._days, day) - 1
        if i < 0:
            raise ValueError(f"{day} is before the calendar window ({self.first})")
        return self._days[i]

    def listed_expiry(self, day: date) -> date:
        """Where a listed expiry on `day` really falls: moved to the previous trading day when
        `day` is a holiday (Good Friday, Juneteenth, Christmas), as the exchanges list it."""
        return self.session_on_or_before(day)

    # --- moments --------------------------------------------------------------------------

    def is_open(self, moment: datetime) -> bool:
        """Regular trading hours at `moment` (open inclusive, close exclusive)."""
        h = self._hours.get(moment.astimezone(ET).date())
        return h is not None and h[0] <= moment < h[1]

    def last_close(self, moment: datetime) -> datetime:
        """The most recent regular-session close at or before `moment`."""
        day = moment.astimezone(ET).date()
        i = bisect.bisect_right(self._days, day) - 1
        while i >= 0:
            close = self._hours[self._days[i]][1]
            if close <= moment:
                return close
            i -= 1
        raise ValueError(f"no session closes before {moment} in the calendar window")

    def next_open(self, moment: datetime) -> datetime | None:
        """The next regular-session open after `moment` (None past the window)."""
        day = moment.astimezone(ET).date()
        i = bisect.bisect_left(self._days, day)
        while i < len(self._days):
            op = self._hours[self._days[i]][0]
            if op > moment:
                return op
            i += 1
        return None

    def session_close(self, day: date) -> datetime:
        """The close of trading day `day` (16:00 or 13:00 ET); 16:00 ET off the calendar."""
        h = self._hours.get(day)
        return h[1] if h else datetime.combine(day, REGULAR_CLOSE, ET)

    # --- IB's contract-details hours ---------------------------------------------------------

    def ib_hours(self, moment: datetime, days: int = 7) -> str:
        """`tradingHours` / `liquidHours` as IB writes them (time zone US/Eastern): one entry
        per calendar day from the day of `moment`, `YYYYMMDD:CLOSED` on weekends and holidays,
        `YYYYMMDD:0930-YYYYMMDD:1300` on an early close."""
        start = moment.astimezone(ET).date()
        parts = []
        for n in range(days):
            day = start + timedelta(days=n)
            h = self._hours.get(day)
            d = day.strftime("%Y%m%d")
            if h is None:
                parts.append(f"{d}:CLOSED")
            else:
                parts.append(f"{d}:{h[0]:%H%M}-{d}:{h[1]:%H%M}")
        return ";".join(parts)


def _sessions(first: date, last: date) -> list[tuple[str, str, str]]:
    """(day, open UTC, close UTC) of every XNYS session first..last, ISO strings.

    exchange_calendars pulls in pandas (over a second of CPU to import), and every tws-sim
    start needs the calendar, so the answer is cached on disk per window and library version
    (a cache that cannot be written is simply not used)."""
    from importlib.metadata import version

    key = f"xnys-{first}-{last}-{version('exchange_calendars')}.json"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tws-sim" / key
    with contextlib.suppress(OSError, ValueError):
        return [tuple(row) for row in json.loads(cache.read_text())]
    import exchange_calendars

    cal = exchange_calendars.get_calendar("XNYS", start=first.isoformat(), end=last.isoformat())
    rows = [
        (day.date().isoformat(), op.isoformat(), cl.isoformat())
        for day, op, cl in zip(cal.sessions, cal.opens.to_list(), cal.closes.to_list(), strict=True)
    ]
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rows))
        tmp.replace(cache)
    return rows


def demo_start(now: datetime, calendar: Calendar | None = None) -> datetime:
    """`--start demo`: now on a trading day; on a weekend or holiday the most recent trading
    day at 10:30 ET, so a demo started on a Saturday shows an open market."""
    now = now.astimezone(ET)
    cal = calendar or Calendar(now.date() - timedelta(days=20), now.date() + timedelta(days=5))
    if cal.is_session(now.date()):
        return now
    day = cal.session_on_or_before(now.date())
    return datetime.combine(day, DEMO_TIME, ET)
