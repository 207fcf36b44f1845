"""A notifier killed in the middle of a burst loses nothing and sends nothing twice."""

from __future__ import annotations

import signal

from .helpers import wait_drained, wait_status

CONCURRENCY = 4


def _post_burst(client, n: int) -> list[str]:
    ids = []
    for i in range(n):
        r = client.post(
            "/v1/emails",
            json={
                "to": [f"user{i}@example.com"],
                "subject": f"Burst {i}",
                "text": f"email number {i}",
                "idempotency_key": f"burst:{i}",
            },
        )
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    return ids


def test_sigkill_mid_burst_then_restart_sends_all_50_once(
    start_notifier, api, fake_resend, notifier_env
):
    # 5 a second: the burst lasts 10 s, so the kill lands mid-burst even on a busy machine.
    proc = start_notifier(
        EMAIL_RATE_LIMIT="5", EMAIL_CONCURRENCY=str(CONCURRENCY), EMAIL_ACK_WAIT="2"
    )
    client = api(proc)
    ids = _post_burst(client, 50)
    fake_resend.wait_for(5)
    proc.stop(signal.SIGKILL)
    sent_before_kill = len(fake_resend.emails)
    assert sent_before_kill < 50, "the burst finished before the kill; nothing was tested"

    proc.start(timeout=90)
    emails = fake_resend.wait_for(50, timeout=90)
    for email_id in ids:
        wait_status(client, email_id, "sent")

    assert len(emails) == 50
    assert sorted(e.subject for e in emails) == sorted(f"Burst {i}" for i in range(50))
    assert len({e.idempotency_key for e in emails}) == 50
    # Only what was in flight at the kill may have been posted again (and Resend deduped it).
    accepted_posts = [p for p in fake_resend.posts() if p.status == 200]
    assert len(accepted_posts) - 50 <= CONCURRENCY
    wait_drained(notifier_env["NATS_URL"])
    assert len(fake_resend.emails) == 50


def test_sigterm_finishes_in_flight_and_restart_sends_the_rest(start_notifier, api, fake_resend):
    # 2 a second: the burst lasts 10 s, so the stop lands mid-burst even on a busy machine.
    proc = start_notifier(EMAIL_RATE_LIMIT="2", EMAIL_CONCURRENCY=str(CONCURRENCY))
    client = api(proc)
    ids = _post_burst(client, 20)
    fake_resend.wait_for(3)
    proc.stop(signal.SIGTERM)
    # uvicorn re-raises SIGTERM after a clean shutdown, hence -15 rather than 0.
    assert proc.proc.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in proc.log_text()
    assert "Traceback" not in proc.log_text()
    assert len(fake_resend.emails) < 20, "the burst finished before the stop; nothing was tested"

    proc.start(timeout=90)
    emails = fake_resend.wait_for(20, timeout=60)
    for email_id in ids:
        wait_status(client, email_id, "sent")
    assert len(emails) == 20
    # A graceful stop hands work back at once: nothing needed a second POST.
    assert len([p for p in fake_resend.posts() if p.status == 200]) == 20


def test_killed_after_resend_accepted_but_before_ack_sends_once(
    start_notifier, api, fake_resend, notifier_env
):
    """The gap "ack after send" leaves: Resend has the email, the notifier died before its
    record and ack. The redelivery carries the same Idempotency-Key; Resend answers with
    the first email's id and sends nothing new."""
    proc = start_notifier(EMAIL_ACK_WAIT="2")
    client = api(proc)
    fake_resend.delay = 1.5
    r = client.post(
        "/v1/emails",
        json={"to": ["a@example.com"], "subject": "Once", "text": "x", "idempotency_key": "gap"},
    )
    fake_resend.wait_received(1)
    proc.stop(signal.SIGKILL)  # the POST is inside "Resend"; its answer will find no one
    [email] = fake_resend.wait_for(1)
    fake_resend.delay = 0

    proc.start(timeout=90)
    status = wait_status(client, r.json()["id"], "sent")
    wait_drained(notifier_env["NATS_URL"])
    posts = fake_resend.posts()
    assert [p.status for p in posts] == [200, 200]
    assert [p.idempotency_key for p in posts] == ["gap", "gap"]
    assert len(fake_resend.emails) == 1
    assert status["resend_id"] == email.id
