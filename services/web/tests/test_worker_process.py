"""The worker as a real process: killed between "email accepted" and "recorded", restarted,
run again on the same signal — one email in all, asserted where the email lands.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from wheeldesk_testing.procs import ROOT, TEST_TOKEN, free_port

MANAGE = ROOT / "services" / "web" / "manage.py"

SEED = textwrap.dedent(
    """
    from datetime import date, timedelta
    from django.contrib.auth import get_user_model
    from wheeldesk_web.alerts.models import SavedScan
    from wheeldesk_web.signals.models import ScanRun, Signal
    User = get_user_model()
    user = User.objects.filter(username="wheel").first() or User.objects.create_user(
        "wheel", "wheel@example.com", "pw-123456-xyz")
    SavedScan.objects.get_or_create(user=user, name="Income puts", defaults={"kinds": "CSP"})
    run = ScanRun.objects.create(status=ScanRun.DONE, trigger="schedule", symbols=["KO"])
    Signal.objects.create(
        scan=run, kind="CSP", symbol="KO", expiry=date(2030, 1, 18), strike=60.0, right="P",
        premium=1.10, collateral=6000, yield_pct=1.83, apy=22.3, pop=82.0, abs_delta=0.2,
        breakeven=58.9, expected_move=4.0, distance_pct=6.2, dte=30, underlying_price=64.0,
        score=88.0, tier="A")
    """
)


@pytest.fixture
def worker_env(tmp_path: Path, email_sink) -> dict[str, str]:  # type: ignore[no-untyped-def]
    closed = f"http://127.0.0.1:{free_port()}"  # bridge and screener down: scan/sync fail fast
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "DATA_DIR": str(tmp_path / "data"),
        "NOTIFIER_URL": email_sink.notifier_url,
        "BRIDGE_URL": closed,
        "SCREENER_URL": closed,
        "INTERNAL_API_TOKEN": TEST_TOKEN,
        "LOG_FORMAT": "text",
        "DEMO_MODE": "true",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage(env, "migrate", "--noinput", "-v", "0")
    return env


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} → {result.returncode}\n{result.stderr}")
    return result


def run_worker(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess:
    return manage({**env, **extra}, "worker", "--once", "--ignore-hours", "--no-nats", check=False)


def test_killed_mid_run_and_rerun_on_the_same_signal_send_one_email(worker_env, email_sink):
    manage(worker_env, "shell", "-c", SEED)
    # 1) killed right after the notifier accepted the digest, before recording it
    crashed = run_worker(worker_env, WHEELDESK_WORKER_CRASH_AFTER_SEND="1")
    assert crashed.returncode == 17, crashed.stderr
    email_sink.wait_for(1)
    # 2) restarted: the pending digest is re-sent with its key; the notifier drops it
    again = run_worker(worker_env)
    assert again.returncode == 0, again.stderr
    # 3) the next scan finds the same tier-A signal: already emailed, never again
    manage(worker_env, "shell", "-c", SEED)
    third = run_worker(worker_env)
    assert third.returncode == 0, third.stderr
    emails = email_sink.settled()
    assert len(emails) == 1
    [email] = emails
    assert email["to"] == ["wheel@example.com"]
    # the notifier's designed signal_digest (HTML + text), rendered from the web's context
    assert email["subject"] == "Wheeldesk: 1 new signal in Income puts"
    assert "[A] CSP KO 60P exp 18 Jan 2030 (30 DTE)" in email["text"]
    assert "premium $1.10 · APY (simple) 22.3% · P(OTM) 82%" in email["text"]
    html = email["html"]
    assert re.search(
        r'href="https://wheeldesk\.example\.test/signals/\d+/"[^>]*>CSP KO 60P</a>', html
    )
    assert "exp 18 Jan 2030 · 30 DTE · premium $1.10" in html and ">22.3%</td>" in html


def test_outside_market_hours_the_worker_process_does_nothing(worker_env, email_sink):
    manage(worker_env, "shell", "-c", SEED)
    saturday = "2026-11-28T15:00:00+00:00"
    result = manage(worker_env, "worker", "--once", "--no-nats", "--now", saturday)
    assert "nothing to do" in result.stderr + result.stdout
    assert email_sink.settled() == []
    state = manage(
        worker_env,
        "shell",
        "-c",
        "from wheeldesk_web.alerts.models import Notification, WorkerState;"
        "print(Notification.objects.count(), WorkerState.get('jobs'))",
    )
    assert state.stdout.strip().splitlines()[-1] == "0 {}"


class EmailSink:
    """The real notifier (JetStream queue, Resend SDK) in front of the fake Resend server."""

    def __init__(self, notifier, fake_resend) -> None:  # type: ignore[no-untyped-def]
        self.notifier = notifier
        self.fake = fake_resend
        self.notifier_url = notifier.url

    def wait_for(self, n: int) -> None:
        self.fake.wait_for(n, timeout=60)

    def settled(self) -> list[dict]:
        """Every email delivered so far, once the notifier's queue has drained.

        A sentinel queued last is waited for at the fake Resend: whatever the worker
        queued before it has been delivered (or deduplicated) by then.
        """
        with httpx.Client(base_url=self.notifier_url, timeout=10) as client:
            r = client.post(
                "/v1/emails",
                headers={"Authorization": f"Bearer {TEST_TOKEN}"},
                json={
                    "to": ["sentinel@example.com"],
                    "subject": "sentinel",
                    "text": "-",
                    "idempotency_key": f"sentinel-{len(self.fake.posts())}",
                },
            )
            r.raise_for_status()
        deadline = time.monotonic() + 60
        while not self.fake.sent_to("sentinel@example.com"):
            assert time.monotonic() < deadline, "the notifier did not deliver the sentinel"
            time.sleep(0.1)
        posts = [p for p in self.fake.posts() if "sentinel@example.com" not in str(p.body)]
        emails = [e.body for e in self.fake.emails if "sentinel@example.com" not in e.to]
        # exactly one POST per email: nothing was delivered twice, even under the same key
        assert len(posts) == len(emails), [p.idempotency_key for p in posts]
        return emails


@pytest.fixture
def email_sink(fresh_nats, fake_resend, service_factory, tmp_path):  # type: ignore[no-untyped-def]
    notifier = service_factory(
        "notifier",
        env={
            "NATS_URL": fresh_nats.url,
            "EMAIL_BACKEND": "resend",
            "RESEND_API_KEY": "re_test_0123456789",
            "RESEND_API_URL": fake_resend.url,
            "EMAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
            "WEB_PUBLIC_URL": "https://wheeldesk.example.test",
        },
    )
    return EmailSink(notifier, fake_resend)
