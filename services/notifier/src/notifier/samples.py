"""Sample contexts for each template: previews (`python -m notifier render`) and tests.

They also document what each template expects; every key shown without a
"optional" comment is required.
"""

from __future__ import annotations

from typing import Any

SAMPLES: dict[str, dict[str, Any]] = {
    "signal_digest": {
        "scan_name": "Core watchlist",  # optional
        "as_of": "2026-11-26T15:45:00-05:00",  # optional
        "signals": [
            {
                "id": 101,
                "tier": "A",
                "kind": "CSP",
                "symbol": "KO",
                "right": "P",
                "strike": 60,
                "expiry": "2026-12-19",
                "dte": 23,  # optional
                "premium": 0.62,
                "apy": 16.4,
                "pop": 84,
            },
            {
                "id": 102,
                "tier": "B",
                "kind": "CC",
                "symbol": "AAPL",
                "right": "C",
                "strike": 235,
                "expiry": "2026-12-19",
                "dte": 23,
                "premium": 2.15,
                "apy": 14.1,
                "pop": 71,
            },
            {
                "id": 103,
                "tier": "C",
                "kind": "CSP",
                "symbol": "F",
                "right": "P",
                "strike": 10.5,
                "expiry": "2026-12-12",
                "dte": 16,
                "premium": 0.11,
                "apy": 23.9,
                "pop": 66,
            },
        ],
    },
    "order_filled": {
        "action": "SELL",
        "quantity": 1,
        "description": "KO 19 Dec 2026 60 P",
        "avg_price": 0.62,
        "commission": 1.05,  # optional
        "filled_at": "2026-11-26T10:31:07-05:00",  # optional
        "account_id": "DU1234567",
        "paper": True,  # optional, default true
        "premium": 62.0,  # optional: + received (a sale), - paid, USD for the whole fill
        "order_path": "c0ffee/",  # optional: the order's page under /orders/
        "roll": False,  # optional: a roll (one combo): the premium is its net credit / debit
        "cycle": {  # optional: the wheel cycle the fill belongs to, as the ledger has it
            "symbol": "KO",
            "state": "Short put open",
            "premium": 62.0,
            "basis": None,  # USD a share once shares are held, else None
            "next_step": "let it run; roll or close if it goes in the money near expiry",
            "path": "/ledger/cycles/KO-2026-11-26/",
        },
    },
    "cycle_event": {  # an option assigned, called away, exercised or expired, and its cycle
        "event": "assignment",  # assignment, called_away, exercise or expiration
        "headline": "Assigned: KO 2026-12-18 60P — 100 shares bought at $60.00",
        "detail": "1 contract assigned: 100 KO shares bought at $60.00 ($6,000.00).",
        "cycle": {  # optional: the wheel cycle the event belongs to, as the ledger has it
            "symbol": "KO",
            "state": "Holding shares",
            "premium": 62.0,
            "basis": 59.38,
            "next_step": "shares assigned — sell a covered call?",
            "path": "/ledger/cycles/KO-2026-11-26/",
        },
    },
    "connection_lost": {"since": "2026-11-26T10:02:00-05:00", "minutes": 12},
    "connection_restored": {
        "since": "2026-11-26T10:02:00-05:00",
        "restored_at": "2026-11-26T10:31:00-05:00",
        "minutes": 29,
    },
    "daily_summary": {
        "date": "2026-11-26",
        "net_liquidation": 104_250.37,
        "cash": 61_120.00,
        "premium_week": 182.00,
        "premium_month": 744.50,
        "short_options": [
            {
                "symbol": "KO",
                "right": "P",
                "strike": 60,
                "expiry": "2026-12-19",
                "quantity": -1,
                "dte": 23,
            },
        ],
        "positions": [
            {
                "symbol": "AAPL",
                "quantity": 100,
                "market_value": 23_010.00,
                "unrealized_pnl": -412.50,
            },
        ],
    },
    "password_reset": {
        "username": "demo",
        "reset_url": "http://127.0.0.1:8000/accounts/reset/MQ/sample-token/",
    },
}
