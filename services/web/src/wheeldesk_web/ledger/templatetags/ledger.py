"""`{% load ledger %}{% ledger_summary %}`: the dashboard's wheel card (from the ledger)."""

from __future__ import annotations

from django import template

from wheeldesk_web.ledger.services import (
    cycles_in_progress,
    invalid_rows,
    ledger_differences,
    premium_collected_this_month,
)

register = template.Library()


@register.inclusion_tag("ledger/partials/summary.html")
def ledger_summary() -> dict:
    return {
        "premium": premium_collected_this_month(),
        "cycles": cycles_in_progress(),
        "differences": ledger_differences(),
        "invalid": invalid_rows(),
    }
