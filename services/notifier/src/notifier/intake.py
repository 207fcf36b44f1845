"""Accepting an email: render it in full, record it, queue it — once per idempotency key.

The status record is written before the message is published, and a repeated
request whose record is still `queued` publishes again: JetStream drops that
publish as a duplicate (`Nats-Msg-Id` = email id) if the first one landed, and
queues it if the first request died in between. Either way one email.
"""

from __future__ import annotations

import hashlib
import uuid

from nats.js import JetStreamContext
from prometheus_client import Counter
from wheeldesk import subjects
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.email import EmailAccepted, EmailJob, EmailRequest, EmailStatus

from notifier.render import RenderError, render
from notifier.store import StatusStore

ACCEPTED = Counter("notifier_emails_accepted_total", "Emails accepted", ["duplicate"])
MAX_JOB_BYTES = 900_000  # under NATS' default 1 MB max payload


def email_id(idempotency_key: str | None) -> str:
    """Same key, same id: the id doubles as the JetStream dedup id and the KV key."""
    if idempotency_key is None:
        return f"em_{uuid.uuid4().hex}"
    return f"em_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}"


def build_job(request: EmailRequest, *, web_url: str) -> EmailJob:
    """Render the template (or take the raw content) into the job that gets queued."""
    eid = email_id(request.idempotency_key)
    key = request.idempotency_key or eid
    people = {
        "to": list(request.to),
        "cc": list(request.cc),
        "bcc": list(request.bcc),
        "reply_to": list(request.reply_to),
    }
    if request.template is None or request.template == "raw":
        assert request.subject is not None  # the schema guarantees it for raw emails
        return EmailJob(
            id=eid,
            **people,
            subject=request.subject,
            html=request.html,
            text=request.text,
            template=None,
            idempotency_key=key,
        )
    try:
        rendered = render(request.template, request.context, web_url=web_url)
    except RenderError as exc:
        raise ServiceError(422, "template_error", exc.message, field=exc.field) from exc
    return EmailJob(
        id=eid,
        **people,
        subject=request.subject or rendered.subject,
        html=request.html or rendered.html,
        text=request.text or rendered.text,
        template=request.template,
        idempotency_key=key,
    )


async def accept(
    request: EmailRequest, *, js: JetStreamContext, store: StatusStore, web_url: str
) -> tuple[EmailAccepted, bool]:
    """Returns the answer and whether it is a new email (202) or a repeat (200)."""
    job = build_job(request, web_url=web_url)
    payload = job.model_dump_json().encode()
    if len(payload) > MAX_JOB_BYTES:
        raise ServiceError(413, "too_large", f"email is {len(payload)} bytes; at most 900 kB")
    existing = None
    if not await store.create(
        EmailStatus(id=job.id, status="queued", to=job.to, subject=job.subject)
    ):  # this key was seen before
        existing = await store.get(job.id)
        if existing is not None and existing.status != "queued":
            ACCEPTED.labels("true").inc()
            return EmailAccepted(id=job.id, status=existing.status, duplicate=True), False
    try:
        ack = await js.publish(
            subjects.email(job.id), payload, headers={"Nats-Msg-Id": job.id}, timeout=5.0
        )
    except Exception as exc:
        raise ServiceError(
            503,
            "queue_unavailable",
            f"email queue unavailable: {exc}",
            headers={"Retry-After": "1"},
        ) from exc
    duplicate = existing is not None or bool(ack.duplicate)
    ACCEPTED.labels(str(duplicate).lower()).inc()
    status = existing.status if existing is not None else "queued"
    return EmailAccepted(id=job.id, status=status, duplicate=duplicate), not duplicate
