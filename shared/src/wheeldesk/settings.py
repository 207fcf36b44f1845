"""Settings base for every service.

Each service defines one subclass; `load_settings` turns a bad environment into a
one-line message naming the variable (never a traceback), because a trader
starting the stack at 9:25 needs to know exactly what to fix.
"""

from __future__ import annotations

import sys
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_INTERNAL_TOKEN = "dev-internal-token-change-me"

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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")
    log_format: Literal["json", "text"] = Field(default="json")
    bridge_url: str = Field(default="http://127.0.0.1:8001", description="gateway-bridge base URL.")
    screener_url: str = Field(default="http://127.0.0.1:8002", description="screener base URL.")
    notifier_url: str = Field(default="http://127.0.0.1:8003", description="notifier base URL.")
    web_public_url: str = Field(
        default="http://127.0.0.1:8000", description="Public URL of the web app (links in emails)."
    )

    def check_secrets(self) -> None:
        """Refuse default or empty secrets outside demo mode."""
        if self.demo_mode:
            return
        for name, value in self.secret_fields().items():
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not raw or raw == DEFAULT_INTERNAL_TOKEN or "change-me" in str(raw):
                raise ConfigError(
                    f"{name.upper()} must be set to a non-default secret when DEMO_MODE=false"
                )

    def secret_fields(self) -> dict[str, object]:
        return {
            name: getattr(self, name)
            for name, field in type(self).model_fields.items()
            if field.annotation is SecretStr or field.annotation == (SecretStr | None)
        }


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
