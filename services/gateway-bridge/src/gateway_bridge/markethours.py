"""Is the US market open on IB's clock? The NYSE (XNYS) calendar from `exchange_calendars`.

The bridge asks IB for frozen data (market data type 2, or 4 with delayed-only data), which IB
answers live during regular hours and with the last session's quote outside them. What the
bridge reports — `ConnectionStatus.market_open`, `last_close`, `next_open` and the data type
of a quote whose line has not announced one — follows this calendar at IB's clock (tws-sim's
simulated one in the demo and the tests), so the web can say "market closed — quotes from
Thu 16:00". US equity options trade the stocks' regular session (09:30–16:00 ET, 13:00 on an
early close), so one calendar serves both.

Building the calendar needs pandas (seconds on a busy machine): `load` runs once in a thread
when the bridge first connects; until it has, the state is unknown (None), never guessed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

WINDOW_BACK = timedelta(days=30)
WINDOW_AHEAD = timedelta(days=400)


@dataclass(frozen=True)
class MarketState:
    open: bool
    last_close: datetime  # the most recent regular-session close at or before the moment (UTC)
    next_open: datetime  # the next regular-session open after the moment (UTC; open: tomorrow's)


class MarketHours:
    """XNYS sessions around a moment, as plain UTC (open, close) pairs (thread-safe)."""

    def __init__(self) -> None:
        self._sessions: list[tuple[datetime, datetime]] = []
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return bool(self._sessions)

    def covers(self, moment: datetime) -> bool:
        s = self._sessions
        return bool(s) and s[0][0] + WINDOW_BACK / 2 <= moment <= s[-1][0] - timedelta(days=7)

    def load(self, around: datetime) -> None:
        """Build the sessions from 30 days before `around` to 400 days after it (idempotent)."""
        if self.covers(around):
            return
        import exchange_calendars as xcals  # pandas: slow to import, only when needed

        start = (around - WINDOW_BACK).date()
        end = (around + WINDOW_AHEAD).date()
        cal: Any = xcals.get_calendar("XNYS", start=start.isoformat(), end=end.isoformat())
        sessions = [
            (op.to_pydatetime().astimezone(UTC), cl.to_pydatetime().astimezone(UTC))
            for op, cl in zip(cal.opens, cal.closes, strict=True)
        ]
        with self._lock:
            self._sessions = sessions
        log.info("NYSE calendar loaded: %d sessions from %s to %s", len(sessions), start, end)

    def state(self, moment: datetime) -> MarketState | None:
        """Open/closed at `moment` with the surrounding close and open; None when unknown."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        with self._lock:
            sessions = self._sessions
        if not sessions or not sessions[0][1] <= moment < sessions[-1][0]:
            return None
        last_close: datetime | None = None
        for i, (op, cl) in enumerate(sessions):
            if op <= moment < cl:
                following = sessions[i + 1][0] if i + 1 < len(sessions) else None
                if last_close is None or following is None:
                    return None
                return MarketState(open=True, last_close=last_close, next_open=following)
            if cl <= moment:
                last_close = cl
                continue
            if last_close is None:
                return None
            return MarketState(open=False, last_close=last_close, next_open=op)
        return None
