"""The simulated moments tests run at: one place, each chosen for what the tests need.

No test decides an expected value from the wall-clock date. tws-sim starts at `SIM_START`
unless a test asks for another moment here, and the services under test follow IB's clock
(the bridge reads it from tws-sim), so a run on any machine date sees the same market.
"""

from __future__ import annotations

from datetime import datetime

from wheeldesk.markettime import NY

# A Wednesday in regular trading hours, 30 days before the July 2026 monthly expiry
# (Fri 2026-07-17): tws-sim's starting short AAPL put is that monthly, so "40 days later"
# settles it; the June monthly (Thu 2026-06-18, Juneteenth moves it off Friday) is tomorrow.
SIM_START = datetime(2026, 6, 17, 10, 30, tzinfo=NY)

# The same Wednesday half an hour after the 16:00 close: frozen data shows the session's last
# bid/ask, live option bid/ask are absent (-1), orders rest until Thu 06-18 09:30.
AFTER_CLOSE = datetime(2026, 6, 17, 16, 30, tzinfo=NY)

# A Saturday after a holiday Friday (Juneteenth 2026-06-19): the last session closed on
# Thu 2026-06-18 at 16:00, the next opens Mon 2026-06-22 at 09:30.
SATURDAY = datetime(2026, 6, 20, 11, 0, tzinfo=NY)

# Good Friday 2027 (NYSE closed on a weekday): the weekly expiry is listed on Thu 2027-03-25.
GOOD_FRIDAY = datetime(2027, 3, 26, 10, 30, tzinfo=NY)

# The day after Thanksgiving 2026, an early close (13:00 ET), half an hour before it.
EARLY_CLOSE = datetime(2026, 11, 27, 12, 30, tzinfo=NY)

# Monday of Christmas week 2026: Fri 12-25 and Fri 2027-01-01 are holidays, so the weekly
# expiries are listed on Thu 12-24 (itself a 13:00 early close) and Thu 12-31.
HOLIDAY_WEEK = datetime(2026, 12, 21, 10, 30, tzinfo=NY)


def iso(moment: datetime) -> str:
    """The form tws-sim's `--start` and `TWS_SIM_START` take."""
    return moment.isoformat()
