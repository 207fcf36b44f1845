"""Stored rows the web's tests build again and again, with one set of plain defaults.

A test overrides the fields it asserts on; the rest are an ordinary 30-DTE cash-secured put
on the pinned broker clock (wheeldesk_testing.moments.SIM_START).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from wheeldesk_testing.moments import SIM_START
from wheeldesk_web.signals.models import ScanRun, Signal

EXPIRY = SIM_START.date() + timedelta(days=30)


def new_signal(scan: ScanRun, **fields: Any) -> Signal:
    kind = fields.get("kind", "CSP")
    strike = fields.get("strike", 60.0)
    premium = fields.get("premium", 1.10)
    defaults: dict[str, Any] = {
        "kind": kind,
        "symbol": "KO",
        "expiry": EXPIRY,
        "strike": strike,
        "right": "C" if kind == "CC" else "P",
        "premium": premium,
        "collateral": strike * 100,
        "yield_pct": 1.83,
        "apy": 22.3,
        "pop": 82.0,
        "abs_delta": 0.2,
        "breakeven": strike - premium,
        "expected_move": 4.0,
        "distance_pct": 6.2,
        "dte": 30,
        "underlying_price": 64.0,
        "score": 88.0,
        "tier": "A",
    }
    return Signal.objects.create(scan=scan, **{**defaults, **fields})
