"""IB's conventions for a missing value, in one place for every module that reads IB's values."""

from __future__ import annotations

import math
from typing import Any

from ib_insync.util import UNSET_DOUBLE

# A double IB did not set (an order's limit price on a market order, a commission not yet
# known): the largest float, which `num` would read as a value.
UNSET = UNSET_DOUBLE


def num(x: Any) -> float | None:
    """IB's 'no value' is nan or -1 (no bid/ask); both become None."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f) or f == -1.0:
        return None
    return f
