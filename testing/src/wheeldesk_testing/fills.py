"""IB executions as the bridge reports them (`Fill`), with one set of plain defaults.

A test overrides the fields it asserts on; the rest are an ordinary 30-DTE cash-secured put (or
100 shares) of KO on the pinned broker clock (`moments.SIM_START`). The web's tests (through
their `web_factories`), the process tests' seeds (`web_seeds`) and the deploy tests' fill events
build their fills here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from wheeldesk.schemas.orders import Fill

from wheeldesk_testing.moments import SIM_START

EXPIRY = SIM_START.date() + timedelta(days=30)


def option_fill(exec_id: str, **fields: Any) -> Fill:
    """An option execution: by default 1 KO put (60 strike, EXPIRY) sold at 1.10, 1.05 fees."""
    defaults: dict[str, Any] = {
        "exec_id": exec_id,
        "time": SIM_START,
        "symbol": "KO",
        "sec_type": "OPT",
        "expiry": EXPIRY,
        "strike": 60.0,
        "right": "P",
        "multiplier": 100,
        "side": "SLD",
        "quantity": 1,
        "price": 1.10,
        "commission": 1.05,
    }
    return Fill(**{**defaults, **fields})


def stock_fill(exec_id: str, **fields: Any) -> Fill:
    """A share execution: by default 100 KO bought at 60.00, no fees reported."""
    defaults: dict[str, Any] = {
        "exec_id": exec_id,
        "time": SIM_START,
        "symbol": "KO",
        "sec_type": "STK",
        "side": "BOT",
        "quantity": 100,
        "price": 60.0,
    }
    return Fill(**{**defaults, **fields})
