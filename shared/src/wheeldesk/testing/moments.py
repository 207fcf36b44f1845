"""The simulated moments tests run at: one place, each chosen for what the tests need.

No test decides an expected value from the wall-clock date. tws-sim starts at `SIM_START`
unless a test asks for another moment here, and the services under test follow IB's clock
(the bridge reads it from tws-sim), so a run on any machine date sees the same market.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")

# A Wednesday in regular trading hours, 30 days before the July 2026 monthly expiry
# (Fri 2026-07-17): tws-sim's starting short AAPL put is that monthly, so "40 days later"
# settles it; the June monthly (Thu 2026-06-18, Juneteenth moves it off Friday) is tomorrow.
SIM_START = datetime(2026, 6, 17, 10, 30, tzinfo=NY)


def iso(moment: datetime) -> str:
    """The form tws-sim's `--start` and `TWS_SIM_START` take."""
    return moment.isoformat()
