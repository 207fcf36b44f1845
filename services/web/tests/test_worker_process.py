"""The worker as a real process: killed between "email accepted" and "recorded", restarted,
run again on the same signal — one email in all, asserted where the email lands.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from wheeldesk_testing.in_web import manage, run_in_web, web_environ
from wheeldesk_testing.procs import TEST_TOKEN, free_port
from wheeldesk_testing.waits import wait_until
from wheeldesk_testing.web_seeds import seed_emailable_signal
from wheeldesk_testing.web_state import WebState


@pytest.fixture
def worker_env(tmp_path: Path, email_sink) -> dict[str, str]:  # type: ignore[no-untyped-def]
    closed = f"http://127.0.0.1:{free_port()}"  # bridge and screener down: scan/sync fail fast
    env = web_environ(
        f"sqlite:///{tmp_path / 'web.sqlite3'}",
        str(tmp_path / "data"),
        NOTIFIER_URL=email_sink.notifier_url,
        BRIDGE_URL=closed,
        SCREENER_URL=closed,
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    return env


def run_worker(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess:
    return manage({**env, **extra}, "worker", "--once", "--ignore-hours", "--no-nats", check=False)


def test_killed_mid_run_and_rerun_on_the_same_signal_send_one_email(worker_env, email_sink):
    run_in_web(worker_env, seed_emailable_signal)
    # 1) killed right after the notifier accepted the digest, before recording it
    crashed = run_worker(worker_env, WHEELDESK_WORKER_CRASH_AFTER_SEND="1")
    assert crashed.returncode == 17, crashed.stderr
    email_sink.wait_for(1)
    # 2) restarted: the pending digest is re-sent with its key; the notifier drops it
    again = run_worker(worker_env)
    assert again.returncode == 0, again.stderr
    # 3) the next scan finds the same tier-A signal: already emailed, never again
    run_in_web(worker_env, seed_emailable_signal)
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
    run_in_web(worker_env, seed_emailable_signal)
    saturday = "2026-11-28T15:00:00+00:00"
    result = manage(worker_env, "worker", "--once", "--no-nats", "--now", saturday)
    assert "nothing to do" in result.stderr + result.stdout
    assert email_sink.settled() == []
    web = WebState(worker_env)
    assert (web.row_count("alerts.Notification"), web.worker_state("jobs")) == (0, {})


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
        wait_until(lambda: self.fake.sent_to("sentinel@example.com"), 60, "the sentinel delivered")
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
