"""`{% load payoff %}{% payoff_diagram signal %}`: the signal page's payoff-at-expiry chart."""

from __future__ import annotations

from django import template
from django.utils.safestring import mark_safe

from wheeldesk_web.signals.payoff import payoff_for_signal, payoff_svg

register = template.Library()


@register.inclusion_tag("signals/partials/payoff.html")
def payoff_diagram(signal) -> dict:  # type: ignore[no-untyped-def]
    p = payoff_for_signal(signal)
    # The SVG is built from numbers only (no user text), so it is safe to inline.
    # A wide chart for tablets and desktops and a narrow one for phones: each keeps its labels
    # at a readable size (an SVG's text shrinks with it).
    return {
        "p": p,
        "svg": mark_safe(payoff_svg(p)),
        "svg_phone": mark_safe(payoff_svg(p, width=360, height=240, font=13, suffix="-phone")),
        "signal": signal,
    }
