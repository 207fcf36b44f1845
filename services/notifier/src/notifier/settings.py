"""Notifier settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from wheeldesk.settings import BaseServiceSettings, ConfigError


class NotifierSettings(BaseServiceSettings):
    notifier_host: str = "127.0.0.1"
    notifier_port: int = Field(default=8003, ge=1, le=65535)
    email_backend: Literal["console", "resend"] | None = Field(
        default=None,
        description=(
            "console: write each email to EMAIL_OUTBOX_DIR; resend: send it. Unset: console in"
            " demo mode; outside demo mode it must be chosen (no mail silently kept on disk)."
        ),
    )
    email_from: str = "Wheeldesk <wheeldesk@example.com>"
    email_outbox_dir: Path = Path("var/outbox")
    resend_api_key: SecretStr = SecretStr("")
    resend_api_url: str = Field(
        default="https://api.resend.com", description="Resend API base URL (tests: a fake)."
    )
    resend_timeout: float = Field(default=20.0, gt=0, description="Seconds per Resend call.")
    email_rate_limit: float = Field(
        default=2.0, gt=0, description="Resend calls per second at most (Resend's default: 2)."
    )
    email_concurrency: int = Field(default=4, ge=1, le=64, description="Emails in flight.")
    email_max_attempts: int = Field(
        default=8, ge=1, description="Attempts before an email is failed and dead-lettered."
    )
    email_backoff_base: float = Field(
        default=2.0, gt=0, description="First retry delay (s); doubles per attempt."
    )
    email_backoff_max: float = Field(default=300.0, gt=0, description="Longest retry delay (s).")
    email_ack_wait: float = Field(
        default=60.0, gt=0, description="Seconds before JetStream redelivers an unacked email."
    )
    email_status_ttl_days: float = Field(
        default=30.0, gt=0, description="How long GET /v1/emails/{id} remembers an email."
    )
    email_shutdown_grace: float = Field(
        default=10.0, ge=0, description="Seconds to finish in-flight emails on shutdown."
    )

    @model_validator(mode="after")
    def _demo_default_backend(self) -> NotifierSettings:
        if self.email_backend is None and self.demo_mode:
            self.email_backend = "console"
        return self

    def check_secrets(self) -> None:
        super().check_secrets()
        if self.email_backend is None:
            raise ConfigError(
                "EMAIL_BACKEND must be set when DEMO_MODE=false: resend to send mail,"
                " or console to keep it in EMAIL_OUTBOX_DIR"
            )
        if self.email_backend == "resend" and not self.resend_api_key.get_secret_value():
            raise ConfigError("RESEND_API_KEY is required when EMAIL_BACKEND=resend")

    def secret_fields(self) -> dict[str, object]:
        # The Resend key is checked in check_secrets, only when it is used: console needs none.
        fields = super().secret_fields()
        fields.pop("resend_api_key", None)
        return fields
