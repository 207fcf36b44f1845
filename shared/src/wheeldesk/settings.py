"""Settings base for every service.

Each service defines one subclass; `load_settings` turns a bad environment into a
one-line message naming the variable (never a traceback), because a trader
starting the stack at 9:25 needs to know exactly what to fix.
"""

from __future__ import annotations

import sys
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_INTERNAL_TOKEN = "dev-internal-token-change-me"
MIN_SECRET_LENGTH = 32  # outside demo mode: a guessable token is no perimeter
# Host names the internal APIs answer to: loopback (make run, healthchecks) and the compose /
# Coolify service names. Anything else is a browser led there by DNS rebinding: 400.
DEFAULT_API_HOSTS = (
    "127.0.0.1,localhost,[::1],gateway-bridge,screener,notifier,"
    "wheeldesk-gateway-bridge,wheeldesk-screener,wheeldesk-notifier"
)

S = TypeVar("S", bound="BaseServiceSettings")


class BaseServiceSettings(BaseSettings):
    """Settings every Wheeldesk process shares. Read from the environment and `.env`."""

    # env_ignore_empty: compose passes `VAR: ${VAR:-}` and `.env.example` has `VAR=` lines; an
    # empty value means "use the default" (None for optional fields), never "the empty string".
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    demo_mode: bool = Field(
        default=True,
        description="Demo/development mode: default secrets allowed. Set false in production.",
    )
    internal_api_token: SecretStr = Field(
        default=SecretStr(DEFAULT_INTERNAL_TOKEN),
        description="Bearer token every service-to-service HTTP call carries (secret).",
    )
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL.")
    nats_user: str | None = Field(
        default=None,
        description="This service's NATS user (its publish/subscribe permissions: docs/security.md).",
    )
    nats_password: SecretStr | None = Field(
        default=None, description="This service's NATS password (secret, 32+ characters)."
    )
    api_allowed_hosts: str = Field(
        default=DEFAULT_API_HOSTS,
        description=(
            "Comma-separated Host names the bridge, screener and notifier answer (port ignored);"
            " any other Host gets 400 (DNS rebinding). Not the web's ALLOWED_HOSTS."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")
    log_format: Literal["json", "text", "console"] = Field(
        default="json",
        description="json (deployments), text (with a timestamp), or console: no timestamp"
        " and no service name, for `make run`, which prefixes each line with both.",
    )
    bridge_url: str = Field(default="http://127.0.0.1:8001", description="gateway-bridge base URL.")
    screener_url: str = Field(default="http://127.0.0.1:8002", description="screener base URL.")
    notifier_url: str = Field(default="http://127.0.0.1:8003", description="notifier base URL.")
    web_public_url: str = Field(
        default="http://127.0.0.1:8000", description="Public URL of the web app (links in emails)."
    )

    @model_validator(mode="after")
    def _nats_credentials_in_url(self) -> BaseServiceSettings:
        """NATS_USER/NATS_PASSWORD go into `nats_url`, so every caller of `natsconn.connect`
        logs in as this service without knowing about credentials (connect splits them out
        again and never logs the password)."""
        if self.nats_user and self.nats_password is not None:
            parts = urlsplit(self.nats_url)
            if parts.username is None:
                from wheeldesk.natsconn import credentials_url

                password = self.nats_password.get_secret_value()
                self.nats_url = credentials_url(self.nats_url, self.nats_user, password)
        return self

    def api_hosts(self) -> frozenset[str]:
        """`api_allowed_hosts` as lower-case names without brackets."""
        return frozenset(
            h.strip().lower().strip("[]") for h in self.api_allowed_hosts.split(",") if h.strip()
        )

    def check_secrets(self) -> None:
        """Refuse default, empty or short (< 32 characters) secrets outside demo mode, and a
        NATS connection without credentials."""
        if self.demo_mode:
            return
        for name, value in self.secret_fields().items():
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if name == "nats_password" and not raw:
                raw = urlsplit(self.nats_url).password  # credentials given in NATS_URL instead
            if not raw or raw == DEFAULT_INTERNAL_TOKEN or "change-me" in str(raw):
                raise ConfigError(
                    f"{name.upper()} must be set to a non-default secret when DEMO_MODE=false"
                )
            if len(str(raw)) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"{name.upper()} is {len(str(raw))} characters; use at least"
                    f" {MIN_SECRET_LENGTH} when DEMO_MODE=false (openssl rand -hex 32)"
                )
        if self.nats_password is not None and not self.nats_user:
            raise ConfigError("NATS_USER must be set with NATS_PASSWORD")

    def secret_fields(self) -> dict[str, object]:
        """Every SecretStr setting, the NATS password last (its message is the least specific)."""
        names = [
            name
            for name, field in type(self).model_fields.items()
            if field.annotation is SecretStr or field.annotation == (SecretStr | None)
        ]
        names.sort(key=lambda name: name == "nats_password")
        return {name: getattr(self, name) for name in names}


class ConfigError(Exception):
    """A configuration problem, reported as one line."""


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for err in exc.errors():
        loc = "_".join(str(p) for p in err["loc"]) or "?"
        value = err.get("input")
        shown = "" if isinstance(value, dict) or value is None else f" (got {str(value)[:40]!r})"
        parts.append(f"{(prefix + loc).upper()}: {err['msg']}{shown}")
    return "; ".join(parts)


def load_settings(cls: type[S], *, exit_on_error: bool = True, **overrides: object) -> S:
    """Build settings, or exit with a one-line message naming the bad variable."""
    try:
        settings = cls(**overrides)  # type: ignore[arg-type]
        settings.check_secrets()
        return settings
    except ValidationError as exc:
        prefix = cls.model_config.get("env_prefix", "") or ""
        message = f"configuration error: {format_validation_error(exc, prefix)}"
    except ConfigError as exc:
        message = f"configuration error: {exc}"
    if not exit_on_error:
        raise ConfigError(message)
    print(message, file=sys.stderr)
    raise SystemExit(2)
