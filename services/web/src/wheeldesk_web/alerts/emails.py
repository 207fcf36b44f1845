"""What the worker emails, and sending it exactly once.

Every email is first written as a `Notification` keyed by an idempotency key
derived from what it is about (the signals of a digest, an order id, an outage's
start); only then is the notifier called with that same key. A worker killed in
between re-sends the pending row on restart and the notifier drops the duplicate.
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from wheeldesk.clients import ServiceCallError, SyncBridgeClient, SyncNotifierClient
from wheeldesk.schemas.email import EmailRequest

from wheeldesk_web.alerts.models import (
    AlertPreferences,
    EmailedSignal,
    Notification,
    SavedScan,
    WorkerState,
)

log = logging.getLogger(__name__)
CRASH_HOOK = "WHEELDESK_WORKER_CRASH_AFTER_SEND"  # fault injection for the restart test


def signal_key(s) -> str:  # type: ignore[no-untyped-def]
    """A signal's identity across scans: the same contract and kind is the same signal."""
    return f"{s.kind}:{s.symbol}:{s.expiry:%Y-%m-%d}:{float(s.strike):g}{s.right}"


def _config(user):  # type: ignore[no-untyped-def]
    from wheeldesk_web.preferences.models import UserConfig

    return UserConfig.for_user(user)


def _recipient(user) -> str:  # type: ignore[no-untyped-def]
    """The address from the user's settings (web 1 of 2 owns it), else the account's email."""
    return _config(user).email_to() or user.email


def _prefs(user) -> AlertPreferences:  # type: ignore[no-untyped-def]
    prefs, _ = AlertPreferences.objects.get_or_create(user=user)
    return prefs


def _queue(key: str, kind: str, user, request: EmailRequest) -> Notification | None:  # type: ignore[no-untyped-def]
    # The notifier (and Resend after it) drop a repeat of this key: the once-only guarantee.
    request = request.model_copy(update={"idempotency_key": key})
    try:
        with transaction.atomic():
            return Notification.objects.create(
                key=key, kind=kind, user=user, request=request.model_dump(mode="json")
            )
    except IntegrityError:
        return None  # already decided (and sent or pending) earlier


def keep_for_later(request: EmailRequest, kind: str = "account_mail") -> Notification | None:
    """Keep an email the notifier could not take (it is down) for the worker's next flush.

    The web's own mail (a password reset) would otherwise be lost while the notifier is
    down; kept here under its idempotency key, it goes out once the notifier is back.
    """
    assert request.idempotency_key, "a kept email needs its idempotency key"
    return _queue(request.idempotency_key, kind, None, request)


def flush(notifier: SyncNotifierClient) -> int:
    """Send every pending notification with its own idempotency key; returns how many."""
    sent = 0
    for n in Notification.objects.filter(status="pending").order_by("id"):
        try:
            accepted = notifier.send(EmailRequest.model_validate(n.request))
        except ServiceCallError as exc:
            if exc.unavailable:
                log.warning("notifier unavailable; %s stays pending (%s)", n.key, exc.message)
                break
            n.status, n.error = "failed", f"{exc.code}: {exc.message}"
            n.save(update_fields=["status", "error"])
            continue
        if os.environ.get(CRASH_HOOK):
            os._exit(17)  # simulate a kill between "notifier accepted" and "recorded"
        n.status, n.email_id, n.sent_at = "sent", accepted.id, timezone.now()
        n.save(update_fields=["status", "email_id", "sent_at"])
        sent += 1
    return sent


TIER_RANK = {"A": 0, "B": 1, "C": 2}


def within_tier(tier: str, threshold: str) -> bool:
    """The user's "Tiers to email": A (A only), B (A and B), C (every tier)."""
    return TIER_RANK.get(tier, 99) <= TIER_RANK.get(threshold, 0)


def _matches(saved: SavedScan, s, symbols: set[str] | None, threshold: str = "A") -> bool:  # type: ignore[no-untyped-def]
    if not within_tier(s.tier, threshold) or s.kind not in saved.kind_list():
        return False
    if symbols is not None and s.symbol not in symbols:
        return False
    if saved.min_apy is not None and s.apy is not None and s.apy < saved.min_apy:
        return False
    if saved.min_pop is not None and (s.pop is None or s.pop < saved.min_pop):
        return False
    if saved.max_delta is not None and (s.abs_delta or 0) > saved.max_delta:
        return False
    return not (saved.max_dte is not None and s.dte > saved.max_dte)


def digest_context(name: str, signals: list, as_of: datetime | None) -> dict[str, Any]:  # type: ignore[type-arg]
    """The notifier's `signal_digest` context (its samples.py documents the keys): one row
    per signal with the numbers the email shows; the notifier renders subject, HTML and text
    and links each row to `/signals/<id>/` on its WEB_PUBLIC_URL."""
    rows = [
        {
            "id": s.pk,
            "tier": s.tier,
            "kind": s.kind,
            "symbol": s.symbol,
            "right": s.right,
            "strike": float(s.strike),
            "expiry": s.expiry.isoformat(),
            "dte": s.dte,
            "premium": float(s.premium),
            "apy": None if s.apy is None else float(s.apy),  # a CLOSE has no APY
            "pop": None if s.pop is None else float(s.pop),
        }
        for s in signals
    ]
    context: dict[str, Any] = {"scan_name": name, "signals": rows}
    if as_of is not None:
        context["as_of"] = as_of.isoformat()
    return context


def _digest(name: str, signals: list, to: str) -> EmailRequest:  # type: ignore[type-arg]
    """The designed email (HTML + text) from the notifier's template, not text built here.

    "Prices as of" is the oldest quote behind the rows (the scan's end when none is stored):
    the email must not claim fresher prices than its stalest row.
    """
    stamps = [s.quote_ts for s in signals if s.quote_ts is not None]
    as_of = min(stamps) if stamps else signals[0].scan.finished if signals else None
    context = digest_context(name, signals, as_of)
    return EmailRequest(to=[to], template="signal_digest", context=context)


def _latest_scan_for(user):  # type: ignore[no-untyped-def]
    """The newest finished scan the user may see: their own, or one the schedule ran."""
    from django.db.models import Q

    from wheeldesk_web.signals.models import ScanRun

    return (
        ScanRun.objects.filter(Q(user=user) | Q(user__isnull=True), status=ScanRun.DONE)
        .order_by("-started", "-id")
        .first()
    )


def _queue_digest(user, name: str, fresh: list, keys: list[str], to: str, saved=None):  # type: ignore[no-untyped-def]
    """One digest of signals never emailed to this user, recorded with the email itself."""
    digest = hashlib.sha256("|".join([str(user.pk), *sorted(keys)]).encode())
    key = f"digest:{digest.hexdigest()[:40]}"
    with transaction.atomic():
        n = _queue(key, "signal_digest", user, _digest(name, fresh, to))
        if n is None:
            return None
        EmailedSignal.objects.bulk_create(
            [
                EmailedSignal(user=user, signal_key=k, signal=s, saved_scan=saved, notification=n)
                for k, s in zip(keys, fresh, strict=True)
            ],
            ignore_conflicts=True,
        )
    return n


def _fresh(candidates: list, emailed: set[str], keep) -> tuple[list, list[str]]:  # type: ignore[no-untyped-def]
    fresh, keys = [], []
    for s in candidates:
        k = signal_key(s)
        if k in emailed or k in keys or not keep(s):
            continue
        fresh.append(s)
        keys.append(k)
    return fresh, keys


NEW_SIGNALS = "New signals"


def queue_signal_digests() -> list[Notification]:
    """Digests of signals not emailed before, from each user's latest finished scan.

    A saved scan with email on gets its own digest of the signals matching it; then a user
    with Settings' "Email new signals" on gets one digest ("New signals") of the rest, both
    at the tiers chosen in "Tiers to email" (A; A and B; every tier). A signal (same kind
    and contract) is emailed to a user once, whichever digest carried it.
    """
    from wheeldesk_web.preferences.models import UserConfig
    from wheeldesk_web.signals.models import Signal

    out: list[Notification] = []
    users = {s.user for s in SavedScan.objects.filter(email=True).select_related("user")}
    users |= {c.user for c in UserConfig.objects.filter(notify_email=True).select_related("user")}
    for user in sorted(users, key=lambda u: u.pk):
        if not user.is_active:
            continue
        to = _recipient(user)
        if not to:
            log.warning("user %s wants signal emails but has no email address", user)
            continue
        latest = _latest_scan_for(user)
        if latest is None:
            continue
        config = _config(user)
        threshold = config.notify_min_tier
        candidates = list(
            Signal.objects.filter(scan=latest).select_related("scan").order_by("-score", "id")
        )
        emailed = set(EmailedSignal.objects.filter(user=user).values_list("signal_key", flat=True))
        for saved in SavedScan.objects.filter(user=user, email=True).select_related("watchlist"):
            symbols = set(saved.watchlist.symbols()) if saved.watchlist else None
            fresh, keys = _fresh(
                candidates, emailed, lambda s, v=saved, w=symbols, t=threshold: _matches(v, s, w, t)
            )
            if fresh and (n := _queue_digest(user, saved.name, fresh, keys, to, saved)):
                out.append(n)
                emailed |= set(keys)
        if config.notify_email:
            fresh, keys = _fresh(candidates, emailed, lambda s, t=threshold: within_tier(s.tier, t))
            if fresh and (n := _queue_digest(user, NEW_SIGNALS, fresh, keys, to)):
                out.append(n)
    return out


def _users_wanting(flag: str):  # type: ignore[no-untyped-def]
    users = get_user_model().objects.filter(is_active=True)
    return [u for u in users if getattr(_prefs(u), flag) and _recipient(u)]


NEXT_STEP = {
    "short_put": "let it run; roll or close if it goes in the money near expiry",
    "shares": "shares assigned — sell a covered call?",
    "covered_call": "let it run; if the shares are called away the cycle closes with its gain",
    "closed": "cycle closed — sell a new put?",
}


def cycle_summary(cycle, next_step: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A wheel cycle as an email shows it: state, premium so far, basis, next step, link."""
    from django.urls import reverse

    basis = cycle.adjusted_cost_basis
    return {
        "symbol": cycle.symbol,
        "state": cycle.state_label,
        "premium": float(cycle.premium),
        "basis": None if basis is None or cycle.basis_unknown else float(basis),
        "next_step": next_step or NEXT_STEP.get(cycle.state, ""),
        "path": reverse("ledger:cycle", args=[cycle.key]),
    }


def cycle_context(symbol: str) -> dict[str, Any] | None:
    """The symbol's newest wheel cycle as the ledger has it, for a fill email."""
    from wheeldesk_web.ledger.models import WheelCycle
    from wheeldesk_web.ledger.services import readable

    # A cycle row the ledger cannot read leaves the email without its cycle, not unsent.
    rows, _ = readable(WheelCycle.objects.filter(symbol=symbol).order_by("-start", "-id")[:1])
    return cycle_summary(rows[0]) if rows else None


def fill_context(order) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The notifier's `order_filled` context: the fill, its premium (a roll's net credit or
    debit), and its wheel cycle."""
    price = float(order.avg_fill_price) if order.avg_fill_price is not None else 0.0
    context: dict[str, Any] = {
        "action": order.action,
        "quantity": order.quantity,
        "description": order.contract,
        "avg_price": price,
        "account_id": order.account_id or "?",
        "paper": order.is_paper,
        "order_path": f"{order.client_order_id}/",
    }
    if order.commission is not None:
        context["commission"] = float(order.commission)
    if order.sec_type in ("OPT", "BAG") and order.avg_fill_price is not None:
        # a roll (BAG) is bought at IB's net price, negative for a credit: the same sign rule
        # gives + for the credit received
        sign = 1 if order.action == "SELL" else -1
        context["premium"] = round(sign * price * float(order.filled or order.quantity) * 100, 2)
    if order.is_combo:
        context["roll"] = True
    cycle = cycle_context(order.symbol)
    if cycle is not None:
        context["cycle"] = cycle
    return context


def queue_order_fills(since: datetime | None = None) -> list[Notification]:
    """One email per filled order: the fill, the premium, and where its wheel cycle stands;
    then one per assignment, call-away, exercise or expiry the ledger recorded (what happens
    to a short option without an order: `cycle_events`), both after the worker's sync."""
    from wheeldesk_web.alerts.cycle_events import queue_cycle_events
    from wheeldesk_web.orders.models import Order

    since = since or timezone.now() - timedelta(days=2)
    out = []
    for order in Order.objects.filter(status="filled", updated__gte=since).select_related("user"):
        user = order.user
        if user is None or not _config(user).notify_fills or not _recipient(user):
            continue
        req = EmailRequest(
            to=[_recipient(user)], template="order_filled", context=fill_context(order)
        )
        n = _queue(f"order-filled:{order.client_order_id}", "order_filled", user, req)
        if n:
            out.append(n)
    return out + queue_cycle_events(since)


def check_connection(bridge: SyncBridgeClient, now: datetime) -> list[Notification]:
    """Email once per outage when IBKR has been disconnected longer than the threshold."""
    try:
        connected = bridge.status().connected
    except ServiceCallError:
        connected = False  # the bridge down means no IBKR either
    state = WorkerState.get("ibkr_outage")
    if connected:
        if state:
            WorkerState.put("ibkr_outage", {})
        return []
    since = datetime.fromisoformat(state["since"]) if state.get("since") else now
    if not state:
        WorkerState.put("ibkr_outage", {"since": now.isoformat()})
    out = []
    for user in _users_wanting("disconnected"):
        minutes = _prefs(user).disconnected_minutes
        if now - since < timedelta(minutes=minutes):
            continue
        subject = f"Wheeldesk: IBKR disconnected for {int((now - since).total_seconds() // 60)} min"
        text = (
            f"The connection to IBKR has been down since {since:%Y-%m-%d %H:%M %Z}.\n"
            "Quotes, scans and order updates are paused until it is back."
        )
        req = EmailRequest(to=[_recipient(user)], subject=subject, text=text)
        n = _queue(f"disconnected:{user.pk}:{since.isoformat()}", "connection_lost", user, req)
        if n:
            out.append(n)
    return out


def check_expiring_itm(bridge: SyncBridgeClient, today) -> list[Notification]:  # type: ignore[no-untyped-def]
    """Short options within N days of expiry and in the money: one email per contract."""
    try:
        shorts = [p for p in bridge.positions() if p.sec_type == "OPT" and p.quantity < 0]
        if not shorts:
            return []
        quotes = {q.symbol: q for q in bridge.quotes(sorted({p.symbol for p in shorts}))}
    except ServiceCallError as exc:
        log.info("expiry check skipped: %s", exc.message)
        return []
    out = []
    users = _users_wanting("expiry_itm")
    for p in shorts:
        q = quotes.get(p.symbol)
        price = q.price if q is not None else None
        if price is None or p.expiry is None or p.strike is None:
            continue
        days = (p.expiry - today).days
        itm = price < p.strike if p.right == "P" else price > p.strike
        if not itm or days < 0:
            continue
        for user in users:
            if days > _prefs(user).expiry_days:
                continue
            what = f"{p.symbol} {p.expiry:%Y-%m-%d} {p.strike:g}{p.right}"
            subject = f"Wheeldesk: short {what} is in the money, {days} day(s) to expiry"
            text = (
                f"{subject}.\nUnderlying {price:.2f} vs strike {p.strike:g}; "
                f"{abs(p.quantity):g} contract(s). Assignment is likely unless you roll or close."
            )
            req = EmailRequest(to=[_recipient(user)], subject=subject, text=text)
            n = _queue(f"expiry-itm:{user.pk}:{what}", "expiry_itm", user, req)
            if n:
                out.append(n)
    return out
