"""'Email new signals' on the whole stack: a real scan (screener → bridge → tws-sim), a real
worker pass, the notifier's console outbox. One digest with only new signals; a second scan
that finds nothing new sends nothing."""

from __future__ import annotations

import json
import time

import pytest
from wheeldesk_testing.stack import Stack

pytestmark = pytest.mark.slow

USER, EMAIL = "digest", "digest@example.com"
SYMBOLS = "KO,PEP,JNJ,MSFT,AAPL"

SETUP = f"""
from django.contrib.auth import get_user_model
from wheeldesk_web.preferences.models import UserConfig
u, _ = get_user_model().objects.get_or_create(username={USER!r}, defaults={{"email": {EMAIL!r}}})
c = UserConfig.for_user(u)
c.notify_email, c.notify_min_tier = True, "B"
c.save()
"""

STATE = f"""
import json
from wheeldesk_web.alerts.emails import signal_key
from wheeldesk_web.alerts.models import Notification
from wheeldesk_web.signals.models import ScanRun
scans = [
    sorted({{signal_key(s) for s in run.signals.all() if s.tier in ("A", "B")}})
    for run in ScanRun.objects.filter(user__username={USER!r}).order_by("id")
]
decided = Notification.objects.filter(user__username={USER!r}, kind="signal_digest").count()
print(json.dumps({{"scans": scans, "decided": decided}}))
"""


def state(stack: Stack) -> dict:
    """Each scan's tier A/B signal keys, and how many digests the worker decided for the user."""
    return json.loads(stack.manage("shell", "-c", STATE).stdout.strip().splitlines()[-1])


def digests(stack: Stack) -> list[dict]:
    if not stack.outbox_dir.exists():
        return []
    metas = [json.loads(p.read_text()) for p in stack.outbox_dir.glob("*.json")]
    return [m for m in metas if m["to"] == [EMAIL] and m["template"] == "signal_digest"]


def wait_for_digests(stack: Stack, n: int, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = digests(stack)
        if len(got) >= n:
            return got
        time.sleep(0.2)
    return digests(stack)


def scan_and_pass(stack: Stack) -> None:
    stack.manage("scan", "--user", USER, "--symbols", SYMBOLS)
    stack.manage("worker", "--once", "--no-nats", "--ignore-hours")


def test_email_new_signals_one_digest_then_none(stack: Stack) -> None:
    stack.manage("shell", "-c", SETUP)
    scan_and_pass(stack)
    now = state(stack)
    [first_keys] = now["scans"]
    assert first_keys, "the demo market should offer tier A or B signals"
    assert now["decided"] == 1
    [first] = wait_for_digests(stack, 1)
    text = (stack.outbox_dir / f"{first['id']}.txt").read_text()
    assert "New signals" in first["subject"]
    rows = [line for line in text.splitlines() if line.lstrip().startswith(("[A]", "[B]", "[C]"))]
    assert len(rows) == len(first_keys) and not any("[C]" in r for r in rows)
    # A second scan seconds later finds the same contracts: nothing new, no email decided
    # (the worker decides before it sends, so its rows are the truth). Should the market
    # have moved a strike into the band, that one new signal gets one digest of its own.
    scan_and_pass(stack)
    now = state(stack)
    new = set(now["scans"][1]) - set(first_keys)
    assert now["decided"] == 1 + (1 if new else 0)
    assert len(wait_for_digests(stack, now["decided"])) == now["decided"]


SCHEDULED = "sched", "sched@example.com"

SCHEDULE = """
from django.contrib.auth import get_user_model
from wheeldesk_web.preferences.models import UserConfig
from wheeldesk_web.watchlist.models import Watchlist, WatchlistItem
u, _ = get_user_model().objects.get_or_create(username={user!r}, defaults={{"email": {email!r}}})
w, _ = Watchlist.objects.get_or_create(user=u, name="Core", defaults={{"is_default": True}})
for s in ("KO", "PEP", "JNJ"):
    WatchlistItem.objects.get_or_create(watchlist=w, symbol=s)
UserConfig.objects.filter(pk=UserConfig.for_user(u).pk).update(
    scan_enabled=True, scan_times={times!r}, notify_email=True, notify_min_tier="C")
"""


def mails_to(stack: Stack, email: str) -> list[dict]:
    if not stack.outbox_dir.exists():
        return []
    metas = [json.loads(p.read_text()) for p in stack.outbox_dir.glob("*.json")]
    return [m for m in metas if m["to"] == [email] and m["template"] == "signal_digest"]


def test_the_worker_scans_on_schedule_and_emails_on_the_brokers_clock(stack: Stack) -> None:
    """Whatever this machine's date (a Saturday when this was written: on the wall clock the
    worker would do nothing), tws-sim's market is a Wednesday morning, open. A user whose
    Settings schedule a scan at the market's current minute gets it, and its digest, from one
    ordinary worker pass: no --ignore-hours, no --now."""
    from wheeldesk.clients import SyncBridgeClient
    from wheeldesk.markettime import NY
    from wheeldesk_testing.procs import TEST_TOKEN

    with SyncBridgeClient(stack.bridge_url, TEST_TOKEN) as bridge:
        status = bridge.status()
    assert status.server_time is not None and status.market_open, status
    at = status.server_time.astimezone(NY)
    user, email = SCHEDULED
    stack.manage("shell", "-c", SCHEDULE.format(user=user, email=email, times=f"{at:%H:%M}"))
    out = stack.manage("worker", "--once", "--no-nats")
    log = out.stdout + out.stderr
    assert f"scheduled scan {user}" in log, log[-2000:]
    assert f"worker pass at {at:%Y-%m-%d}" in log, log[-2000:]  # IB's date, not this machine's
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not mails_to(stack, email):
        time.sleep(0.2)
    [mail] = mails_to(stack, email)
    assert "New signals" in mail["subject"]
