"""nats-server restarting under the notifier: refused cleanly while down, nothing lost."""

from __future__ import annotations

import time

import httpx

from .helpers import wait_status

EMAIL = {"to": ["trader@example.com"], "text": "text only, as the worker sends"}


def _wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError("notifier did not become ready again")


def test_nats_restart_keeps_queued_emails_and_refuses_while_down(
    start_notifier, api, fake_resend, fresh_nats
):
    # A nak sent as the server stops is lost with it; the email then comes back only after
    # ack_wait (60 s by default), which is the product's promise, so the test shortens it.
    proc = start_notifier(EMAIL_MAX_ATTEMPTS="100", EMAIL_ACK_WAIT="3")
    client = api(proc)
    fake_resend.set_down(True)
    ids = [
        client.post("/v1/emails", json={**EMAIL, "subject": f"Queued {i}"}).json()["id"]
        for i in range(3)
    ]
    fake_resend.wait_requests(3)

    fresh_nats.stop()
    r = client.post("/v1/emails", json={**EMAIL, "subject": "While NATS is down"})
    assert r.status_code == 503
    assert r.json()["code"] in ("not_ready", "queue_unavailable")
    assert "Traceback" not in r.text
    assert httpx.get(f"{proc.url}/readyz").status_code == 503

    fresh_nats.start()
    fake_resend.set_down(False)
    _wait_ready(proc.url)
    late = client.post("/v1/emails", json={**EMAIL, "subject": "After NATS is back"})
    assert late.status_code == 202, late.text
    for email_id in [*ids, late.json()["id"]]:
        wait_status(client, email_id, "sent")
    subjects = sorted(e.subject for e in fake_resend.emails)
    assert subjects == ["After NATS is back", "Queued 0", "Queued 1", "Queued 2"]
    assert all(e.text == EMAIL["text"] and e.html is None for e in fake_resend.emails)
