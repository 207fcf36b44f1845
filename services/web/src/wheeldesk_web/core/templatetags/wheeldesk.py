"""Formatting for traders: money, percentages, and a price that always shows its age and type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from wheeldesk_web.core.status import data_is_simulated, data_type_label

register = template.Library()


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN -> None


@register.filter
def money(value: Any, places: int = 2) -> str:
    number = _num(value)
    if number is None:
        return "—"
    sign = "−" if number < 0 else ""
    return f"{sign}${abs(number):,.{int(places)}f}"


@register.filter
def num(value: Any, places: int = 2) -> str:
    number = _num(value)
    return "—" if number is None else f"{number:,.{int(places)}f}"


@register.filter
def strike(value: Any, right: str = "") -> str:
    """One way to write a strike everywhere: "217.5P", "405P", "61.25C" (no trailing zeros,
    like the emails and the `Contract` labels written with `:g`)."""
    number = _num(value)
    if number is None:
        return "—"
    text = f"{number:.2f}".rstrip("0").rstrip(".")
    return f"{text}{right or ''}"


@register.filter
def pct(value: Any, places: int = 1) -> str:
    number = _num(value)
    return "—" if number is None else f"{number:,.{int(places)}f}%"


@register.filter
def frac_pct(value: Any, places: int = 1) -> str:
    """A fraction (0.25) shown as a percentage (25.0%)."""
    number = _num(value)
    return "—" if number is None else f"{number * 100:,.{int(places)}f}%"


@register.filter
def signed_class(value: Any) -> str:
    number = _num(value)
    if number is None or number == 0:
        return ""
    return "text-green-700" if number > 0 else "text-red-700"


@register.filter
def iso(value: datetime | None) -> str:
    if value is None:
        return ""
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.utc)
    return value.isoformat()


@register.inclusion_tag("core/partials/price.html")
def price(value: Any, ts: datetime | None, data_type: str | None, places: int = 2) -> dict:
    """A price with its data type badge and a ticking age (rendered again by SSE updates)."""
    return {"value": _num(value), "ts": ts, "data_type": (data_type or "unknown"), "places": places}


@register.filter
def dt_label(data_type: str | None) -> str:
    """A data-type badge's text: 'live', 'frozen', 'delayed'… or SIMULATED on tws-sim's data."""
    return data_type_label(data_type)


@register.filter
def dt_class(data_type: str | None) -> str:
    """The badge's colour class: IB's type, purple for simulated data."""
    if data_is_simulated():
        return "dt-simulated bg-purple-100 text-purple-800"
    return f"dt-{data_type or 'unknown'}"


@register.simple_tag
def scan_quotes_note(scan: Any) -> str:
    """What the scan's quotes were, for its header: frozen (market closed), delayed, simulated.

    A scan on a closed market ran on the last session's (frozen) quotes: a premium or yield in
    it is not a price the market offers now, so the header says so."""
    if scan is None:
        return ""
    types = set(
        scan.signals.exclude(market_data_type="").values_list("market_data_type", flat=True)
    )
    parts: list[str] = []
    if types & {"frozen", "delayed-frozen"}:
        parts.append("market closed: frozen quotes from the last session")
    if types & {"delayed", "delayed-frozen"}:
        parts.append("delayed quotes (no live data subscription)")
    if types and data_is_simulated():
        parts.append("simulated data")
    return " · ".join(parts)


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def big_money(value: Any) -> str:
    """$3.47T, $105.6B, $12.3M: market caps and cash flows at a glance."""
    number = _num(value)
    if number is None:
        return "—"
    sign = "−" if number < 0 else ""
    size = abs(number)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if size >= limit:
            return f"{sign}${size / limit:,.2f}{suffix}"
    return f"{sign}${size:,.0f}"
