"""Notifier contracts: `POST /v1/emails`, `GET /v1/emails/{id}`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, EmailStr, Field, model_validator

from wheeldesk.schemas.common import Event, StrictModel, utcnow

TemplateName = Literal[
    "signal_digest",
    "order_filled",
    "cycle_event",
    "connection_lost",
    "connection_restored",
    "daily_summary",
    "password_reset",
    "raw",
]


class EmailRequest(StrictModel):
    to: list[EmailStr] = Field(min_length=1, max_length=50)
    cc: list[EmailStr] = Field(default_factory=list, max_length=50)
    bcc: list[EmailStr] = Field(default_factory=list, max_length=50)
    reply_to: list[EmailStr] = Field(default_factory=list, max_length=10)
    template: TemplateName | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    subject: str | None = Field(default=None, max_length=998)
    html: str | None = Field(default=None, max_length=1_000_000)
    text: str | None = Field(default=None, max_length=1_000_000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="after")
    def _content(self) -> EmailRequest:
        raw = self.template is None or self.template == "raw"
        if raw and (not self.subject or not (self.html or self.text)):
            raise ValueError("a raw email needs subject and html or text (or name a template)")
        return self


EmailState = Literal["queued", "sent", "failed"]


class EmailAccepted(BaseModel):
    id: str
    status: EmailState = "queued"
    duplicate: bool = False


class EmailStatus(BaseModel):
    id: str
    status: EmailState
    resend_id: str | None = None
    reason: str | None = None
    attempts: int = 0
    to: list[str] = Field(default_factory=list)
    subject: str | None = None
    created: datetime = Field(default_factory=utcnow)
    updated: datetime = Field(default_factory=utcnow)


class EmailJob(Event):
    """What the notifier queues on `email.send.<id>`: the email already rendered.

    Rendering happens when the request is accepted, so a bad context is a 422 to the
    caller rather than a failure discovered later by the consumer.
    """

    id: str
    to: list[str]
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    reply_to: list[str] = Field(default_factory=list)
    subject: str
    html: str | None = None
    text: str | None = None
    template: str | None = None
    idempotency_key: str = Field(description="Sent to Resend as `Idempotency-Key`.")


class EmailDeadLetter(Event):
    """Published on `email.dead` (stream EMAIL_DLQ) when an email is given up on."""

    id: str
    reason: str
    attempts: int
    job: EmailJob
