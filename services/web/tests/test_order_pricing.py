"""The suggested limit: the mid on a grid every US option tick accepts, never past the touch."""

from __future__ import annotations

from decimal import Decimal

import pytest
from wheeldesk_web.orders.pricing import suggested_limit


@pytest.mark.parametrize(
    ("action", "mid", "bid", "ask", "expected"),
    [
        ("SELL", 3.27, 3.10, 3.45, "3.20"),  # from $3: down to the $0.10 grid
        ("BUY", 3.27, 3.10, 3.45, "3.30"),  # up to the grid
        ("SELL", 3.27, 3.25, 3.30, "3.25"),  # the grid is below the bid: the bid
        ("BUY", 3.27, 3.25, 3.29, "3.29"),  # above the ask (SPY pennies): the ask
        ("SELL", 1.23, 1.20, 1.26, "1.20"),  # under $3: the $0.05 grid
        ("BUY", 1.23, 1.20, 1.26, "1.25"),
        ("BUY", 2.98, 2.90, 3.10, "3.00"),  # crossing $3 lands on 3.00, on every tick
        ("SELL", 0.02, 0.01, 0.03, "0.01"),  # a penny quote: the bid
        ("SELL", 0.0, 0.0, 0.0, None),
    ],
)
def test_suggested_limit(
    action: str, mid: float, bid: float, ask: float, expected: str | None
) -> None:
    got = suggested_limit(action, mid, bid, ask)
    assert got == (Decimal(expected) if expected else None)
