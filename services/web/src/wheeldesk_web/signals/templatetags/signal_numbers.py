"""`{% load signal_numbers %}`: per-share numbers shown per contract on the signal pages."""

from __future__ import annotations

import math
from typing import Any

from django import template

register = template.Library()


@register.filter
def mul(value: Any, factor: Any) -> float | None:
    """value x factor (a per-share price x the multiplier); None when either is missing, so
    the `money` filter shows "—" rather than $0.00."""
    try:
        out = float(value) * float(factor)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
