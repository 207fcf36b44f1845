"""The broker's clock for the web's pages and its worker.

Every "today" the web shows or decides with (DTE, "expires this week", the worker's schedule,
the ledger's days) is IB's: the bridge reports it in its status and
`wheeldesk.markettime.BROKER_CLOCK` runs on from the last report. A page asks the bridge at
most every `REFRESH_SECONDS` (one thread asks, the others read the clock as it is), so tws-sim's
simulated clock — advanced by days in tests and the soak — shows within seconds.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import date, datetime

from wheeldesk.clients import ServiceCallError
from wheeldesk.markettime import BROKER_CLOCK, ny_date

from wheeldesk_web.core.clients import kept_bridge

REFRESH_SECONDS = 5.0
_asking = threading.Lock()
_last_asked = -1e9


def refresh(*, force: bool = False) -> None:
    """Read IB's clock from the bridge unless it was read within REFRESH_SECONDS."""
    global _last_asked
    if BROKER_CLOCK.pinned:
        return
    if not force and time.monotonic() - _last_asked < REFRESH_SECONDS:
        return
    if not _asking.acquire(blocking=False):
        return
    try:
        _last_asked = time.monotonic()
        # Bridge down: keep running on the last known offset (or the wall clock).
        with contextlib.suppress(ServiceCallError):
            BROKER_CLOCK.follow(kept_bridge(timeout=2.0).status().server_time)
    finally:
        _asking.release()


def broker_now() -> datetime:
    refresh()
    return BROKER_CLOCK.now()


def broker_today() -> date:
    """Today in New York on the broker's clock."""
    return ny_date(broker_now())
