"""Sending through the real notifier process, the real Resend SDK and a fake Resend."""

from __future__ import annotations

from notifier.samples import SAMPLES

from .helpers import wait_status

EMAIL = {
    "to": ["trader@example.com"],
    "subject": "Hello",
    "text": "Plain body",
    "html": "<p>Hi</p>",
}


def test_send_reaches_resend_with_key_and_status_sent(start_notifier, api, fake_resend):
    client = api(start_notifier())
    r = client.post("/v1/emails", json={**EMAIL, "idempotency_key": "welcome:42"})
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["status"] == "queued" and accepted["duplicate"] is False

    [email] = fake_resend.wait_for(1)
    assert email.to == ["trader@example.com"]
    assert email.subject == "Hello"
    assert email.text == "Plain body" and email.html == "<p>Hi</p>"
    assert email.body["from"] == "Wheeldesk <wheeldesk@example.com>"
    assert email.idempotency_key == "welcome:42"
    assert email.headers["Authorization"] == "Bearer re_test_0123456789"

    status = wait_status(client, accepted["id"], "sent")
    assert status["resend_id"] == email.id
    assert status["attempts"] == 1
    assert status["to"] == ["trader@example.com"]


def test_duplicate_post_same_key_sends_one_email(start_notifier, api, fake_resend):
    client = api(start_notifier())
    body = {**EMAIL, "idempotency_key": "order-filled:abc"}
    first = client.post("/v1/emails", json=body)
    second = client.post("/v1/emails", json=body)
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert second.json()["id"] == first.json()["id"]

    wait_status(client, first.json()["id"], "sent")
    third = client.post("/v1/emails", json=body)  # long after: the record answers
    assert third.json() == {"id": first.json()["id"], "status": "sent", "duplicate": True}

    # A later email proves the queue moved on; only then count.
    client.post("/v1/emails", json={**EMAIL, "subject": "Later", "idempotency_key": "later"})
    emails = fake_resend.wait_for(2)
    assert [e.subject for e in emails] == ["Hello", "Later"]
    assert len(fake_resend.posts()) == 2


def test_template_email_is_rendered_before_queueing(start_notifier, api, fake_resend):
    client = api(start_notifier())
    r = client.post(
        "/v1/emails",
        json={
            "to": ["trader@example.com"],
            "template": "signal_digest",
            "context": SAMPLES["signal_digest"],
        },
    )
    assert r.status_code == 202, r.text
    [email] = fake_resend.wait_for(1)
    assert email.subject == "Wheeldesk: 3 new signals in Core watchlist"
    assert "https://wheeldesk.example.test/signals/101/" in email.html
    assert "16.4%" in email.html and "84%" in email.html
    assert "#dcfce7" in email.html  # tier A green
    assert "CSP KO 60P" in email.text
    # Without a key, the email id itself is the key Resend sees.
    assert email.idempotency_key == r.json()["id"]


def test_malformed_request_is_422_naming_the_field(start_notifier, api, fake_resend):
    client = api(start_notifier())
    cases = [
        ({**EMAIL, "to": ["not-an-address"]}, "to.0"),
        ({k: v for k, v in EMAIL.items() if k != "to"}, "to"),
        ({**EMAIL, "colour": "red"}, "colour"),
        ({**EMAIL, "template": "no_such_template"}, "template"),
        ({"to": ["a@example.com"], "text": "no subject"}, "body"),
    ]
    for body, field in cases:
        r = client.post("/v1/emails", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"] == field, (body, r.json())
        assert r.json()["message"]
    assert client.post("/v1/emails", content=b"{not json").status_code == 422
    assert client.get("/v1/emails/em_doesnotexist").status_code == 404


def test_missing_template_value_is_a_clear_422_and_nothing_is_sent(
    start_notifier, api, fake_resend
):
    client = api(start_notifier())
    context = dict(SAMPLES["order_filled"])
    del context["avg_price"]
    r = client.post(
        "/v1/emails",
        json={"to": ["trader@example.com"], "template": "order_filled", "context": context},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "template_error"
    assert r.json()["field"] == "context.avg_price"
    assert "avg_price" in r.json()["message"]

    client.post("/v1/emails", json={**EMAIL, "subject": "Marker"})
    emails = fake_resend.wait_for(1)
    assert [e.subject for e in emails] == ["Marker"]


def test_api_requires_the_internal_token(start_notifier):
    import httpx

    proc = start_notifier()
    r = httpx.post(f"{proc.url}/v1/emails", json=EMAIL)
    assert r.status_code == 401
    assert httpx.get(f"{proc.url}/readyz").json()["status"] == "ready"
