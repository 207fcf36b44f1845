"""Notifier settings."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from wheeldesk.settings import BaseServiceSettings


class NotifierSettings(BaseServiceSettings):
    notifier_host: str = "127.0.0.1"
    notifier_port: int = Field(default=8003, ge=1, le=65535)
    email_backend: Literal["console", "resend"] = "console"
    email_from: str = "Wheeldesk <wheeldesk@example.com>"
    email_outbox_dir: Path = Path("var/outbox")
    resend_api_key: SecretStr = SecretStr("")
