"""Market time: New York's zone, the expiry moment, days to expiry, and the broker's clock.

Every "today" and DTE in Wheeldesk is the broker's: IB Gateway's clock in production, tws-sim's
simulated clock in the demo and the tests (it can run faster or be advanced by days). The
gateway-bridge reads IB's clock and reports it as `ConnectionStatus.server_time`; every other
process keeps one `BrokerClock` that follows the latest report, and asks it instead of the
wall clock whenever a date decides something (DTE, "expires this week", the worker's
schedule). Durations (timeouts, ages, log stamps) stay on the wall clock.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
REGULAR_CLOSE = time(16, 0)


def expiry_moment(day: date) -> datetime:
    """US equity options stop trading at the 16:00 New York close of their expiry day."""
    return datetime.combine(day, REGULAR_CLOSE, tzinfo=NY)


def ny_date(moment: datetime) -> date:
    """The New York calendar date of a moment (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(NY).date()


def dte(expiry: date, now: datetime) -> int:
    """Whole calendar days a trader sees: expiry date minus today's date in New York (0 on
    expiry day, -1 once that day's close has passed)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    local = now.astimezone(NY)
    days = (expiry - local.date()).days
    return -1 if days == 0 and local.time() >= REGULAR_CLOSE else days


def dte_days(expiry: date, now: datetime) -> float:
    """Exact days (fractional) from `now` to the expiry's 16:00 close: the model's time."""
    return (expiry_moment(expiry) - now).total_seconds() / 86400.0


class BrokerClock:
    """The broker's clock as last reported, running on from there with the wall clock.

    `follow(server_time)` records the offset between the broker and this machine; `now()`
    applies it. Until a report arrives it is the wall clock (offset 0). Thread-safe: the
    web's request threads and its worker read it while a status fetch updates it.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._known = False
        self._pinned = False
        self._lock = threading.Lock()

    def pin(self, moment: datetime | None) -> None:
        """Tests and replays: run on from `moment` and ignore the broker's reports until
        unpinned (`pin(None)`: back to the wall clock, following reports again)."""
        with self._lock:
            self._pinned = moment is not None
            self._known = moment is not None
            self._offset = 0.0 if moment is None else (moment - datetime.now(UTC)).total_seconds()

    @property
    def pinned(self) -> bool:
        return self._pinned

    def follow(self, server_time: datetime | None, received: datetime | None = None) -> None:
        if server_time is None:
            return
        if server_time.tzinfo is None:
            server_time = server_time.replace(tzinfo=UTC)
        at = received or datetime.now(UTC)
        with self._lock:
            if self._pinned:
                return
            self._offset = (server_time - at).total_seconds()
            self._known = True

    @property
    def known(self) -> bool:
        """True once the broker has reported its time (otherwise `now()` is the wall clock)."""
        return self._known

    @property
    def offset(self) -> timedelta:
        return timedelta(seconds=self._offset)

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def today(self) -> date:
        """Today in New York on the broker's clock."""
        return ny_date(self.now())


BROKER_CLOCK = BrokerClock()
"""This process's view of the broker's clock (one per process, fed from the bridge's status)."""
