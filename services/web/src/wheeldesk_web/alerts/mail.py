"""Django's mail (password reset and the like) sent through the notifier.

The notifier is the only holder of the Resend key (docs/design.md), so Django never
talks SMTP or Resend itself. Each message gets one idempotency key; a retry after
the notifier did not answer reuses it, so a slow notifier cannot cause a second email.
A message the notifier cannot take at all (it is down) is kept in the worker's outbox
(`alerts.Notification`) under that key and sent by the worker once the notifier is back.
"""

from __future__ import annotations

import logging
import time
import uuid
from email.utils import getaddresses
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from wheeldesk.clients import ServiceCallError, SyncNotifierClient
from wheeldesk.schemas.email import EmailRequest

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


def _addresses(values: list[str] | tuple[str, ...] | None) -> list[str]:
    """Plain addresses from Django's forms (`"Name <a@b.c>"` or `a@b.c`)."""
    return [addr for _, addr in getaddresses(list(values or [])) if addr]


def to_request(message: EmailMessage) -> EmailRequest:
    """The notifier request for one Django message (raw content: Django rendered it)."""
    html = None
    text: str | None = message.body or None
    if message.content_subtype == "html":
        html, text = message.body or None, None
    for content, mimetype in getattr(message, "alternatives", None) or []:
        if mimetype == "text/html" and html is None:
            html = content if isinstance(content, str) else content.decode()
    headers = message.extra_headers or {}
    key = headers.get(IDEMPOTENCY_HEADER) or f"django:{uuid.uuid4().hex}"
    return EmailRequest(
        to=_addresses(message.to),
        cc=_addresses(message.cc),
        bcc=_addresses(message.bcc),
        reply_to=_addresses(message.reply_to),
        subject=message.subject or "(no subject)",
        text=text,
        html=html,
        idempotency_key=key,
    )


class NotifierEmailBackend(BaseEmailBackend):
    """`EMAIL_BACKEND = "wheeldesk_web.alerts.mail.NotifierEmailBackend"`.

    Options (for `get_connection(...)`): `notifier_url`, `token`, `timeout`, `attempts`,
    `keep_when_down` (default on: keep the message for the worker rather than fail); they
    default to the web's NOTIFIER_URL and INTERNAL_API_TOKEN.
    """

    def __init__(
        self,
        fail_silently: bool = False,
        *,
        notifier_url: str | None = None,
        token: str | None = None,
        timeout: float = 10.0,
        attempts: int = 3,
        keep_when_down: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        if notifier_url is None or token is None:
            from wheeldesk_web.config import SETTINGS

            notifier_url = notifier_url or SETTINGS.notifier_url
            token = token or SETTINGS.internal_api_token.get_secret_value()
        self.notifier_url = notifier_url
        self.token = token
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.keep_when_down = keep_when_down
        self.client: SyncNotifierClient | None = None

    def open(self) -> bool:
        if self.client is not None:
            return False
        self.client = SyncNotifierClient(self.notifier_url, self.token, timeout=self.timeout)
        return True

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def send_messages(self, email_messages: Any) -> int:
        messages = list(email_messages or [])
        if not messages:
            return 0
        opened = self.open()
        sent = 0
        try:
            for message in messages:
                if not message.recipients():
                    continue
                try:
                    self._send(to_request(message))
                except Exception:
                    if not self.fail_silently:
                        raise
                    log.exception("email to %s not sent", ", ".join(message.recipients()))
                    continue
                sent += 1
        finally:
            if opened:
                self.close()
        return sent

    def _send(self, request: EmailRequest) -> None:
        assert self.client is not None
        for attempt in range(1, self.attempts + 1):
            try:
                accepted = self.client.send(request)
            except ServiceCallError as exc:
                if exc.unavailable and attempt == self.attempts and self.keep_when_down:
                    self._keep(request, exc)
                    return
                if not exc.unavailable or attempt == self.attempts:
                    raise
                time.sleep(min(2.0, exc.retry_after or 0.5 * attempt))
                continue
            log.info("email %s queued at the notifier for %s", accepted.id, ", ".join(request.to))
            return

    @staticmethod
    def _keep(request: EmailRequest, exc: ServiceCallError) -> None:
        from wheeldesk_web.alerts.emails import keep_for_later

        keep_for_later(request)
        log.warning(
            "notifier unavailable (%s); email to %s kept for the worker to send",
            exc.message,
            ", ".join(request.to),
        )
