"""Notifier contracts: `POST /v1/emails`, `GET /v1/emails/{id}`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

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


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


# email-validator (EmailStr) refuses an address at a special-use domain (`a@b.test`, RFC 6761):
# the published schema states it, as `format: email` alone does not.
_SPECIAL_USE = "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
Address = Annotated[
    EmailStr, Field(json_schema_extra={"pattern": rf"^(?!.*[@.](?:{_SPECIAL_USE})$)"})
]


def _nonempty(*names: str) -> dict[str, Any]:
    """JSON Schema for "these fields are given and not empty"."""
    return {
        "required": list(names),
        "properties": {name: {"type": "string", "minLength": 1} for name in names},
    }


class EmailRequest(StrictModel):
    """An email: a template with its context, or a raw one (subject and html or text)."""

    # The published schema states `_content`: a template other than raw, or the raw parts.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "required": ["template"],
                    "properties": {
                        "template": {"enum": [t for t in get_args(TemplateName) if t != "raw"]}
                    },
                },
                {**_nonempty("subject"), "anyOf": [_nonempty("html"), _nonempty("text")]},
            ]
        }
    )

    to: list[Address] = Field(min_length=1, max_length=50)
    cc: list[Address] = Field(default_factory=list, max_length=50)
    bcc: list[Address] = Field(default_factory=list, max_length=50)
    reply_to: list[Address] = Field(default_factory=list, max_length=10)
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
