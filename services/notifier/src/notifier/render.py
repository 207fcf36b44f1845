"""Email templates: Jinja2, HTML autoescaped, every context value required.

`StrictUndefined` turns a missing context value into an error at render time, and
rendering happens when a request is accepted, so the caller gets a 422 naming the
value instead of a recipient getting a half-filled email.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    Undefined,
    UndefinedError,
    select_autoescape,
)
from markupsafe import Markup

TEMPLATES = (
    "signal_digest",
    "order_filled",
    "cycle_event",
    "connection_lost",
    "connection_restored",
    "daily_summary",
    "password_reset",
)

# Tier → (text colour, background): green / amber / red as in the web app.
TIER_COLOURS = {
    "A": ("#166534", "#dcfce7"),
    "B": ("#92400e", "#fef3c7"),
    "C": ("#991b1b", "#fee2e2"),
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


class RenderError(Exception):
    """A template could not be rendered from the given context (a caller error)."""

    def __init__(self, template: str, message: str, field: str = "context") -> None:
        super().__init__(f"template {template}: {message}")
        self.template = template
        self.message = f"template {template}: {message}"
        self.field = field


def _defined(value: Any) -> Any:
    """A filter given a missing value raises the missing-value error, not a type error."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value


def _number(value: Any) -> float:
    return float(_defined(value))


def money(value: Any, currency: str = "$") -> str:
    amount = _number(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}{currency}{abs(amount):,.2f}"


def pct(value: Any, digits: int = 1) -> str:
    return f"{_number(value):.{digits}f}%"


def strike(value: Any) -> str:
    return f"{_number(value):g}"


def day(value: Any) -> str:
    """An ISO date or datetime (JSON gives strings) shown as e.g. `Fri 19 Dec 2026`."""
    value = _defined(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.strftime("%a %d %b %Y %H:%M %Z").strip()
    if isinstance(value, date):
        return value.strftime("%a %d %b %Y")
    raise TypeError(f"not a date: {value!r}")


def expiry(value: Any) -> str:
    value = _defined(value)
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.strftime("%d %b %Y")
    raise TypeError(f"not a date: {value!r}")


def tier_badge(tier: Any) -> Markup:
    fg, bg = TIER_COLOURS.get(str(tier), ("#374151", "#f3f4f6"))
    style = (
        f"display:inline-block;padding:2px 8px;border-radius:10px;font-weight:700;"
        f"color:{fg};background:{bg};"
    )
    return Markup('<span style="{}">{}</span>').format(style, tier)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("notifier", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(money=money, pct=pct, strike=strike, day=day, expiry=expiry)
    env.globals.update(tier_badge=tier_badge, tier_colours=TIER_COLOURS)
    return env


_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")
_MISSING_ATTR = re.compile(r"has no attribute '([^']+)'$")


def _error(template: str, exc: Exception) -> RenderError:
    text = str(exc)
    if isinstance(exc, UndefinedError):
        if m := _UNDEFINED_NAME.match(text):
            return RenderError(
                template, f"context is missing the value '{m[1]}'", field=f"context.{m[1]}"
            )
        if m := _MISSING_ATTR.search(text):
            return RenderError(template, f"context is missing the value '{m[1]}' ({text})")
        return RenderError(template, f"context is missing a value ({text})")
    return RenderError(template, f"bad context value ({type(exc).__name__}: {text})")


def render(template: str, context: dict[str, Any], *, web_url: str) -> Rendered:
    """Render subject, HTML and text in full, or raise `RenderError` (nothing partial)."""
    if template not in TEMPLATES:
        raise RenderError(template, "no such template", field="template")
    env = environment()
    values = {**context, "web_url": web_url.rstrip("/")}
    try:
        subject = env.get_template(f"{template}.subject.txt").render(values)
        html = env.get_template(f"{template}.html").render(values)
        text = env.get_template(f"{template}.txt").render(values)
    except TemplateError as exc:
        raise _error(template, exc) from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise _error(template, exc) from exc
    subject = " ".join(subject.split())
    if not subject:
        raise RenderError(template, "rendered an empty subject")
    return Rendered(subject=subject, html=html, text=text)
