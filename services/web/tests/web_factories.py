"""Rows and broker objects the web's tests build again and again, with one set of plain defaults.

A test overrides the fields it asserts on; the rest are an ordinary 30-DTE cash-secured put
(or 100 shares) of KO on the pinned broker clock (wheeldesk_testing.moments.SIM_START), in
tws-sim's paper account. The broker objects are the bridge's schemas (`Fill`, `Position`,
`Quote`): what the web's ledger, checks and worker receive from IBKR.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from wheeldesk.schemas.account import Position
from wheeldesk.schemas.market import Quote
from wheeldesk.schemas.orders import Fill
from wheeldesk_testing.moments import SIM_START
from wheeldesk_web.signals.models import ScanRun, Signal

EXPIRY = SIM_START.date() + timedelta(days=30)
ACCOUNT = "DU7654321"  # tws-sim's paper account, as the bridge reports it


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


def stock_position(symbol: str = "KO", quantity: float = 200, **fields: Any) -> Position:
    """Shares held: by default 200 KO at an average cost of 60.00."""
    defaults: dict[str, Any] = {"account_id": ACCOUNT, "sec_type": "STK", "avg_cost": 60.0}
    return Position(**{**defaults, "symbol": symbol, "quantity": quantity, **fields})


def option_position(symbol: str = "KO", quantity: float = -1, **fields: Any) -> Position:
    """An option held: by default 1 short KO put (60 strike, EXPIRY), IB's average cost per
    contract 110.00 (1.10 a share)."""
    defaults: dict[str, Any] = {
        "account_id": ACCOUNT,
        "sec_type": "OPT",
        "avg_cost": 110.0,
        "expiry": EXPIRY,
        "strike": 60.0,
        "right": "P",
        "multiplier": 100,
    }
    return Position(**{**defaults, "symbol": symbol, "quantity": quantity, **fields})


def quote(symbol: str, last: float, **fields: Any) -> Quote:
    """The bridge's quote of `symbol` at `last` (bid, ask, ... as given)."""
    return Quote(symbol=symbol, last=last, **fields)


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
