"""When the worker acts: the US options market's regular session, from exchange-calendars.

Equity options trade on the NYSE session (09:30–16:00 ET, early closes, holidays);
the maintained XNYS calendar carries those. Past the calendar's horizon we fall back
to weekdays 09:30–16:00 ET and say so in the log.
"""

from __future__ import annotations

import functools
import logging
import re
from datetime import UTC, datetime, time, timedelta

from wheeldesk.markettime import NY as EASTERN

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _calendar():  # type: ignore[no-untyped-def]
    import exchange_calendars

    return exchange_calendars.get_calendar("XNYS")


def market_open(now: datetime) -> bool:
    import pandas as pd

    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    cal = _calendar()
    ts = pd.Timestamp(now.astimezone(UTC)).floor("min")
    if cal.first_minute <= ts <= cal.last_minute:
        return bool(cal.is_open_on_minute(ts))
    log.warning("market calendar ends %s; assuming a plain weekday session", cal.last_session)
    local = now.astimezone(EASTERN)
    return local.weekday() < 5 and time(9, 30) <= local.time() < time(16, 0)


def parse_every(raw: str) -> timedelta:
    """'15m', '5m', '90s', '1h' → timedelta."""
    match = re.fullmatch(r"\s*(\d+)\s*([smh]?)\s*", raw)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"interval {raw!r}: use a number with s, m or h (e.g. 15m)")
    n, unit = int(match.group(1)), match.group(2) or "s"
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours"}[unit]: n})


TIER_WORDS = {"A": "tier A", "B": "tiers A and B", "C": "every tier"}


def _times(times: list[str]) -> str:
    return times[0] if len(times) == 1 else ", ".join(times[:-1]) + " and " + times[-1]


def schedule_summary(config) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """What the worker will do for this user, in the words both Settings and Alerts show:
    one schedule, read from the same row the worker reads."""
    times = config.scan_time_list()
    if config.scan_enabled and times:
        scans = f"Scheduled scans at {_times(times)} New York time on market days."
    else:
        scans = "Scheduled scans are off: scans run when you start them."
    tiers = TIER_WORDS.get(config.notify_min_tier, config.notify_min_tier)
    if config.notify_email:
        mail = f"New signals ({tiers}) are emailed once each, one digest per scan."
    else:
        mail = f"Email new signals is off; saved scans with email on send {tiers}."
    return {"scans": scans, "emails": mail}
