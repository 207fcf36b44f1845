"""Resend answering 429 / 5xx / nothing: retried with backoff, or failed and dead-lettered."""

from __future__ import annotations

import json

from .helpers import dead_letters, wait_status

EMAIL = {"to": ["trader@example.com"], "subject": "Retry me", "text": "body"}


def test_429_then_200_sends_one_email_after_honouring_retry_after(start_notifier, api, fake_resend):
    client = api(start_notifier())
    fake_resend.fail_next(1, status=429, retry_after=1)
    r = client.post("/v1/emails", json={**EMAIL, "idempotency_key": "rl-1"})
    [email] = fake_resend.wait_for(1)
    status = wait_status(client, r.json()["id"], "sent")

    posts = fake_resend.posts()
    assert [p.status for p in posts] == [429, 200]
    assert [p.idempotency_key for p in posts] == ["rl-1", "rl-1"]
    assert posts[1].ts - posts[0].ts >= 1.0  # Retry-After: 1 was honoured
    assert status["attempts"] == 2
    assert status["resend_id"] == email.id


def test_500s_are_retried_with_backoff(start_notifier, api, fake_resend):
    client = api(start_notifier())
    fake_resend.fail_next(2, status=500)
    r = client.post("/v1/emails", json=EMAIL)
    fake_resend.wait_for(1)
    status = wait_status(client, r.json()["id"], "sent")
    posts = fake_resend.posts()
    assert [p.status for p in posts] == [500, 500, 200]
    # backoff base 0.2 s doubling, ±20% jitter: 0.16+ then 0.32+
    assert posts[1].ts - posts[0].ts >= 0.15
    assert posts[2].ts - posts[1].ts >= 0.3
    assert status["attempts"] == 3


def test_resend_down_beyond_budget_fails_and_dead_letters(
    start_notifier, api, fake_resend, fresh_nats
):
    client = api(start_notifier())  # EMAIL_MAX_ATTEMPTS=4 (conftest)
    fake_resend.set_down(True)
    r = client.post("/v1/emails", json={**EMAIL, "idempotency_key": "doomed"})
    email_id = r.json()["id"]
    status = wait_status(client, email_id, "failed")
    assert status["attempts"] == 4
    assert "gave up after 4 attempts" in status["reason"]
    assert "503" in status["reason"]
    assert len(fake_resend.posts()) == 4
    assert fake_resend.emails == []

    [dead] = [json.loads(d) for d in dead_letters(fresh_nats.url)]
    assert dead["id"] == email_id
    assert dead["attempts"] == 4
    assert dead["job"]["subject"] == "Retry me"
    assert dead["job"]["idempotency_key"] == "doomed"

    # Resend back: new mail flows; the failed one is not resent behind our back.
    fake_resend.set_down(False)
    later = client.post("/v1/emails", json={**EMAIL, "subject": "After the outage"})
    wait_status(client, later.json()["id"], "sent")
    assert [e.subject for e in fake_resend.emails] == ["After the outage"]
    assert client.get(f"/v1/emails/{email_id}").json()["status"] == "failed"
    again = client.post("/v1/emails", json={**EMAIL, "idempotency_key": "doomed"})
    assert again.json() == {"id": email_id, "status": "failed", "duplicate": True}


def test_rejected_request_fails_at_once_without_retries(start_notifier, api, fake_resend):
    client = api(start_notifier())
    fake_resend.fail_next(1, status=422)
    r = client.post("/v1/emails", json=EMAIL)
    status = wait_status(client, r.json()["id"], "failed")
    assert status["attempts"] == 1
    assert "422" in status["reason"]
    assert len(fake_resend.posts()) == 1


def test_network_errors_are_retried_then_failed(start_notifier, api):
    from wheeldesk_testing.procs import free_port

    client = api(start_notifier(RESEND_API_URL=f"http://127.0.0.1:{free_port()}"))
    r = client.post("/v1/emails", json=EMAIL)
    status = wait_status(client, r.json()["id"], "failed")
    assert status["attempts"] == 4
    assert "HttpClientError" in status["reason"]
