"""Django's mail goes through the real notifier to a fake Resend (NotifierEmailBackend)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from pydantic import ValidationError
from wheeldesk.clients import ServiceCallError, SyncNotifierClient
from wheeldesk_testing.procs import TEST_TOKEN, free_port
from wheeldesk_web.alerts.models import Notification
from wheeldesk_web.config import SETTINGS
from wheeldesk_web.worker.loop import Worker

BACKEND = "wheeldesk_web.alerts.mail.NotifierEmailBackend"


@pytest.fixture
def notifier(service_factory, fresh_nats, fake_resend):  # type: ignore[no-untyped-def]
    return service_factory(
        "notifier",
        env={
            "NATS_URL": fresh_nats.url,
            "EMAIL_BACKEND": "resend",
            "RESEND_API_KEY": "re_test_web",
            "RESEND_API_URL": fake_resend.url,
        },
    )


def test_message_with_html_cc_bcc_reaches_resend(notifier, fake_resend):
    connection = mail.get_connection(BACKEND, notifier_url=notifier.url, token=TEST_TOKEN)
    message = EmailMultiAlternatives(
        subject="Your weekly wheel",
        body="Plain text body",
        from_email="ignored@example.com",
        to=["Trader Joe <joe@example.com>"],
        cc=["cc@example.com"],
        bcc=["audit@example.com"],
        reply_to=["help@example.com"],
        connection=connection,
    )
    message.attach_alternative("<p>HTML <b>body</b></p>", "text/html")
    assert message.send() == 1

    [email] = fake_resend.wait_for(1)
    assert email.to == ["joe@example.com"]
    assert email.body["cc"] == ["cc@example.com"]
    assert email.body["bcc"] == ["audit@example.com"]
    assert email.body["reply_to"] == ["help@example.com"]
    assert email.subject == "Your weekly wheel"
    assert email.text == "Plain text body"
    assert email.html == "<p>HTML <b>body</b></p>"
    assert email.idempotency_key.startswith("django:")


@pytest.mark.django_db
def test_password_reset_email_goes_through_the_notifier(
    notifier, fake_resend, settings, monkeypatch
):
    settings.EMAIL_BACKEND = BACKEND
    monkeypatch.setattr(SETTINGS, "notifier_url", notifier.url)
    monkeypatch.setattr(
        SETTINGS, "internal_api_token", type(SETTINGS.internal_api_token)(TEST_TOKEN)
    )
    get_user_model().objects.create_user("alice", "alice@example.com", "pw-123456789")

    form = PasswordResetForm({"email": "alice@example.com"})
    assert form.is_valid()
    form.save(domain_override="wheeldesk.example.test", use_https=True)

    [email] = fake_resend.wait_for(1)
    assert email.to == ["alice@example.com"]
    assert "https://wheeldesk.example.test/accounts/reset/" in email.text


def test_notifier_down_raises_unless_fail_silently():
    url = f"http://127.0.0.1:{free_port()}"
    loud = mail.get_connection(
        BACKEND, notifier_url=url, token=TEST_TOKEN, attempts=1, keep_when_down=False
    )
    with pytest.raises(ServiceCallError) as err:
        mail.send_mail("s", "b", None, ["x@example.com"], connection=loud)
    assert err.value.unavailable
    quiet = mail.get_connection(
        BACKEND,
        fail_silently=True,
        notifier_url=url,
        token=TEST_TOKEN,
        attempts=1,
        keep_when_down=False,
    )
    assert mail.send_mail("s", "b", None, ["x@example.com"], connection=quiet) == 0


@pytest.mark.django_db
def test_mail_while_the_notifier_is_down_is_kept_and_sent_once_when_it_is_back(
    service_factory, fresh_nats, fake_resend
):
    """A password reset during a notifier outage is not lost: the worker sends it later."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    down = mail.get_connection(BACKEND, notifier_url=url, token=TEST_TOKEN, attempts=1)
    assert mail.send_mail("Reset", "Your link", None, ["bob@example.com"], connection=down) == 1
    kept = Notification.objects.get()
    assert (kept.status, kept.kind, kept.request["to"]) == (
        "pending",
        "account_mail",
        ["bob@example.com"],
    )
    assert kept.key.startswith("django:")
    assert fake_resend.posts() == []

    service_factory(
        "notifier",
        env={
            "NATS_URL": fresh_nats.url,
            "EMAIL_BACKEND": "resend",
            "RESEND_API_KEY": "re_test_web",
            "RESEND_API_URL": fake_resend.url,
        },
        port=port,
    )
    worker = Worker(notifier_factory=lambda: SyncNotifierClient(url, TEST_TOKEN))
    closed = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # a Saturday: only the outbox is sent
    assert worker.tick(closed) == ["emailed 1"]
    assert worker.tick(closed) == []  # sent: not again
    [email] = fake_resend.wait_for(1)
    assert (email.to, email.subject, email.text) == (["bob@example.com"], "Reset", "Your link")
    assert email.idempotency_key == kept.key
    kept.refresh_from_db()
    assert kept.status == "sent" and kept.email_id


def test_invalid_address_is_refused_with_the_field(notifier):
    connection = mail.get_connection(BACKEND, notifier_url=notifier.url, token=TEST_TOKEN)
    with pytest.raises(ValidationError) as err:
        mail.send_mail("s", "b", None, ["not-an-address"], connection=connection)
    assert err.value.errors()[0]["loc"] == ("to", 0)
