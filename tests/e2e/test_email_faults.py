"""Email across the system when its two ends fail: the notifier down, Resend refusing.

The web's password reset mail goes web → notifier (HTTP) → EMAIL stream (JetStream) →
notifier → Resend (here a fake that records every request). Each test asserts what lands
at Resend: the right recipient and subject, exactly once, with one idempotency key.

Runs on the fault stack, its notifier switched to the fake Resend for this module and
switched back afterwards. Cost: about 45 s on an idle machine (notifier restarts, six
short worker runs, one order).
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from wheeldesk_testing.e2e import (
    MARKET_CLOSED,
    login,
    request_password_reset,
    sell_put_from_web,
    sim_orders,
    wait_until,
)
from wheeldesk_testing.fake_resend import FakeRequest, FakeResend
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.waits import email_queue_idle
from wheeldesk_testing.web_state import WebState

pytestmark = pytest.mark.slow

DEMO_EMAIL = "demo@example.com"
RETRY_AFTER = 2.0


@pytest.fixture(scope="module")
def resend():  # type: ignore[no-untyped-def]
    with FakeResend() as fake:
        yield fake


@pytest.fixture(scope="module")
def system(fault_stack: Stack, resend: FakeResend):  # type: ignore[no-untyped-def]
    notifier = fault_stack.notifier
    before = dict(notifier.env)
    notifier.env.update(
        {
            "EMAIL_BACKEND": "resend",
            "RESEND_API_KEY": "re_test_e2e_mail_0123456789",
            "RESEND_API_URL": resend.url,
            "EMAIL_BACKOFF_BASE": "0.2",
            "EMAIL_BACKOFF_MAX": "2",
            "EMAIL_ACK_WAIT": "5",
        }
    )
    notifier.restart(wait=True)
    yield fault_stack
    notifier.env.clear()
    notifier.env.update(before)
    notifier.restart(wait=True)


@pytest.fixture
def fresh(resend: FakeResend) -> FakeResend:
    resend.reset()
    return resend


def _posts_with_key(resend: FakeResend, key: str | None) -> list[FakeRequest]:
    return [r for r in resend.posts() if r.idempotency_key == key]


def _run_worker_once(system: Stack) -> str:
    """One real worker pass (`manage.py worker --once`) at a closed-market time."""
    done = system.manage("worker", "--once", "--no-nats", "--now", MARKET_CLOSED)
    return done.stdout + done.stderr


def _status(stack: Stack, key: str) -> str:
    """How the web's email with this idempotency key went (pending, sent, failed)."""
    [note] = [n for n in WebState(stack).notifications() if n["key"] == key]
    return note["status"]


def _reset_link(stack: Stack, text: str) -> str:
    found = re.search(rf"{re.escape(stack.web_url)}/accounts/reset/\S+/", text)
    assert found, f"no reset link in the email: {text[:500]}"
    return found.group(0)


def test_password_reset_while_the_notifier_is_down_is_sent_once_after_it_returns(
    system: Stack, fresh: FakeResend
) -> None:
    web = WebState(system)
    kept_before = len(web.notifications())
    system.notifier.stop()
    try:
        # A signed-in user is told what happens to email meanwhile (signed in before the
        # reset is asked for: a login after it would void the link, as Django intends).
        user = login(system)
        try:
            wait_until(
                lambda: "kept here and sent once it is back" in user.get("/dashboard/").text,
                30,
                "the notifier banner",
            )
        finally:
            user.close()
        asked = request_password_reset(system, DEMO_EMAIL)
        # The user is told the mail is on its way, and the web kept it rather than lose it.
        assert asked.status_code == 302, asked.text[:500]
        assert asked.headers["location"] == "/accounts/password_reset/done/"
        notes = web.notifications()
        kept = [n for n in notes if n["kind"] == "account_mail"][-1]
        assert len(notes) == kept_before + 1
        key, status, request = kept["key"], kept["status"], kept["request"]
        assert status == "pending" and DEMO_EMAIL in json.dumps(request)
        # A worker pass while the notifier is still down keeps it pending.
        _run_worker_once(system)
        assert _status(system, key) == "pending"
        assert fresh.posts() == []
    finally:
        system.notifier.start(wait=True)

    _run_worker_once(system)
    [email] = wait_until(lambda: fresh.sent_to(DEMO_EMAIL), 60, "the kept reset mail at Resend")
    assert email.to == [DEMO_EMAIL]
    assert email.subject.startswith("Password reset on"), email.subject
    assert email.idempotency_key == key
    assert _status(system, key) == "sent"
    # Another worker pass does not send it again; the link in it still works.
    _run_worker_once(system)
    with httpx.Client(timeout=60, follow_redirects=True) as browser:
        page = browser.get(_reset_link(system, email.text or ""))
    assert page.status_code == 200 and 'name="new_password1"' in page.text
    assert len(fresh.sent_to(DEMO_EMAIL)) == 1
    assert [r.status for r in _posts_with_key(fresh, key)] == [200]


def test_fill_alert_decided_while_the_notifier_is_down_is_sent_once_after_it_returns(
    system: Stack, fresh: FakeResend
) -> None:
    """The worker's own alert (an order filled) waits in its outbox through the outage."""
    client = login(system)
    system.control("/control/fill-mode", {"mode": "immediate"})
    try:
        coid = sell_put_from_web(client, system, "XOM")
        wait_until(
            lambda: [o["status"] for o in sim_orders(system, coid)] == ["Filled"], 60, "the fill"
        )
    finally:
        system.control("/control/fill-mode", {"mode": "cross"})
        client.close()
    key = f"order-filled:{coid}"
    system.notifier.stop()
    try:
        # A worker pass in market hours: its sync sees the fill and decides on the alert.
        system.manage("worker", "--once", "--no-nats", "--ignore-hours")
        assert _status(system, key) == "pending"
        assert fresh.posts() == []
    finally:
        system.notifier.start(wait=True)
    _run_worker_once(system)
    wait_until(lambda: _posts_with_key(fresh, key), 60, "the fill alert at Resend")
    _run_worker_once(system)
    [email] = [e for e in fresh.emails if e.idempotency_key == key]
    assert email.to == [DEMO_EMAIL]
    assert email.subject.startswith("Filled: SELL 1 XOM "), email.subject
    assert f"/orders/{coid}/" in (email.text or "")
    assert [r.status for r in _posts_with_key(fresh, key)] == [200]
    assert _status(system, key) == "sent"


def test_email_in_flight_when_the_notifier_is_killed_is_sent_once_after_it_returns(
    system: Stack, fresh: FakeResend
) -> None:
    """The EMAIL stream keeps an accepted email through a notifier crash mid-send."""
    fresh.delay = 3.0  # Resend slow: the notifier is killed while waiting for its answer
    accepted = httpx.post(
        f"{system.notifier_url}/v1/emails",
        json={
            "to": ["inflight@example.com"],
            "subject": "e2e in flight",
            "text": "hello",
            "idempotency_key": "e2e-inflight-1",
        },
        headers={"Authorization": f"Bearer {system.env['INTERNAL_API_TOKEN']}"},
        timeout=30,
    )
    assert accepted.status_code == 202, accepted.text
    email_id = accepted.json()["id"]
    fresh.wait_received(1, timeout=60)
    system.notifier.kill()
    fresh.delay = 0.0
    system.notifier.start(wait=True)

    def status() -> str:
        answer = httpx.get(
            f"{system.notifier_url}/v1/emails/{email_id}",
            headers={"Authorization": f"Bearer {system.env['INTERNAL_API_TOKEN']}"},
            timeout=10,
        )
        return answer.json().get("status", "") if answer.status_code == 200 else ""

    wait_until(lambda: status() == "sent", 90, "the email redelivered and sent")
    # Sent twice to Resend (once before the crash, once after) with one key: one email.
    posts = _posts_with_key(fresh, "e2e-inflight-1")
    assert len(posts) >= 2 and {r.body["subject"] for r in posts} == {"e2e in flight"}
    assert [e.subject for e in fresh.sent_to("inflight@example.com")] == ["e2e in flight"]


def test_resend_answering_429_then_500_is_retried_and_the_mail_sent_once(
    system: Stack, fresh: FakeResend
) -> None:
    # Nothing else in the notifier's queue: the injected answers all go to this email.
    wait_until(lambda: email_queue_idle(system.nats_url), 60, "the notifier's queue empty")
    fresh.reset()
    fresh.fail_next(1, 429, retry_after=RETRY_AFTER)
    fresh.fail_next(2, 500)
    asked = request_password_reset(system, DEMO_EMAIL)
    assert asked.status_code == 302, asked.text[:500]
    [email] = wait_until(lambda: fresh.sent_to(DEMO_EMAIL), 90, "the reset mail at Resend")
    assert email.subject.startswith("Password reset on") and email.to == [DEMO_EMAIL]
    posts = _posts_with_key(fresh, email.idempotency_key)
    assert [r.status for r in posts] == [429, 500, 500, 200]
    assert all(r.body == posts[-1].body for r in posts)  # the same email each time
    # Resend's Retry-After was honoured (a lower bound: a slow machine only adds to it).
    assert posts[1].ts - posts[0].ts >= RETRY_AFTER * 0.9
    # No duplicate: a later email goes through, and the first one was not posted again.
    marker = request_password_reset(system, DEMO_EMAIL)
    assert marker.status_code == 302
    wait_until(lambda: len(fresh.sent_to(DEMO_EMAIL)) == 2, 90, "a second reset mail")
    assert [r.status for r in _posts_with_key(fresh, email.idempotency_key)] == [
        429,
        500,
        500,
        200,
    ]
    assert all(e.idempotency_key for e in fresh.emails)
    assert len({e.idempotency_key for e in fresh.emails}) == len(fresh.emails) == 2
