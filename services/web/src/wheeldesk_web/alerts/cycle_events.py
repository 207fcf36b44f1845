"""Emails for what happens to a short option without an order: assigned, called away,
exercised or expired — each saying what it did to the wheel cycle (premium so far, basis,
the next step) with a link to the cycle.

The ledger records these from IB's executions (their kind, never the price at expiry); the
worker, after a sync, emails each one once per user who wants fill emails (Settings' "Email
fills"), under the key `cycle-event:<user>:<exec id>`, so a repeat pass sends nothing. Only
news is emailed: an event within `RECENT_DAYS` of the ledger's newest execution (IB's time,
so no clock of this machine decides it), reported by IB's live feed or the bridge's backfill
— a Flex import of last year's history sends nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone
from wheeldesk.schemas.email import EmailRequest

from wheeldesk_web.alerts.emails import _config, _queue, _recipient, cycle_summary
from wheeldesk_web.alerts.models import Notification

EVENT_KINDS = ("assignment", "exercise", "expiration")
RECENT_DAYS = 3  # an expiry Friday is still news on Monday


def _money(value: Decimal | float) -> str:
    return f"${float(value):,.2f}"


def describe(e) -> tuple[str, str, str, str | None]:  # type: ignore[no-untyped-def]
    """(event, headline, detail, next step or None for the cycle state's own) of an option
    execution: what happened, in the words a trader checks."""
    contracts = int(abs(e.quantity))
    shares = contracts * (e.multiplier if e.multiplier and e.multiplier > 1 else 100)
    strike = e.strike if e.strike is not None else Decimal(0)
    cash = _money(strike * shares)
    plural = "contract" if contracts == 1 else "contracts"
    if e.kind == "expiration":
        if e.right == "C":
            step = "the call expired and the shares are still held — sell another covered call?"
        else:
            step = None
        return (
            "expiration",
            f"Expired worthless: {e.contract} — the premium is kept",
            f"{contracts} {plural} expired out of the money: nothing to buy back, the premium "
            "received is kept.",
            step,
        )
    if e.kind == "assignment" and e.right == "C":
        return (
            "called_away",
            f"Called away: {e.contract} — {shares} shares sold at {_money(strike)}",
            f"{contracts} {plural} assigned: {shares} {e.symbol} shares sold at "
            f"{_money(strike)} ({cash}).",
            None,
        )
    if e.kind == "assignment":
        return (
            "assignment",
            f"Assigned: {e.contract} — {shares} shares bought at {_money(strike)}",
            f"{contracts} {plural} assigned: {shares} {e.symbol} shares bought at "
            f"{_money(strike)} ({cash}).",
            None,
        )
    return (
        "exercise",
        f"Exercised: {e.contract}",
        f"{contracts} {plural} exercised at {_money(strike)} ({cash}).",
        None,
    )


def _cycle_of(e):  # type: ignore[no-untyped-def]
    """The cycle the execution belongs to (by its reference), else the symbol's newest."""
    from wheeldesk_web.ledger.models import WheelCycle
    from wheeldesk_web.ledger.services import readable

    rows, _ = readable(WheelCycle.objects.filter(symbol=e.symbol).order_by("-start", "-id"))
    return next((c for c in rows if e.exec_id in (c.event_refs or [])), rows[0] if rows else None)


def event_context(e) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The notifier's `cycle_event` context (its samples.py documents the keys)."""
    event, headline, detail, step = describe(e)
    context: dict[str, Any] = {"event": event, "headline": headline, "detail": detail}
    cycle = _cycle_of(e)
    if cycle is not None:
        context["cycle"] = cycle_summary(cycle, step if cycle.state == "shares" else None)
    return context


def queue_cycle_events(since: datetime | None = None) -> list[Notification]:
    """One email per assignment, call-away, exercise or expiry recorded since `since` (by
    when the ledger stored it; default two days) that is news (see the module docstring),
    per user who wants fill emails."""
    from django.contrib.auth import get_user_model

    from wheeldesk_web.ledger.models import Execution

    since = since or timezone.now() - timedelta(days=2)
    newest = Execution.objects.aggregate(newest=Max("time"))["newest"]
    if newest is None:
        return []
    flex_only = Q(sources="flex") | Q(sources="", source="flex")
    events = (
        Execution.objects.filter(
            sec_type="OPT",
            kind__in=EVENT_KINDS,
            created__gte=since,
            time__gte=newest - timedelta(days=RECENT_DAYS),
            conflict_with__isnull=True,
        )
        .exclude(flex_only)
        .order_by("time", "id")
    )
    if not events.exists():
        return []
    users = [
        u
        for u in get_user_model().objects.filter(is_active=True).order_by("pk")
        if _config(u).notify_fills and _recipient(u)
    ]
    out = []
    for e in events:
        context = event_context(e)
        for user in users:
            req = EmailRequest(to=[_recipient(user)], template="cycle_event", context=context)
            n = _queue(f"cycle-event:{user.pk}:{e.exec_id}", "cycle_event", user, req)
            if n:
                out.append(n)
    return out
