"""The web service's environment settings (one pydantic-settings class), read once."""

from pathlib import Path

from pydantic import Field, SecretStr
from wheeldesk.settings import BaseServiceSettings, load_settings


class WebSettings(BaseServiceSettings):
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=1, le=65535)
    web_workers: int = Field(
        default=2,
        ge=1,
        le=32,
        description="uvicorn worker processes (each holds one NATS subscription for SSE).",
    )
    web_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description=(
            "Threads per worker serving pages (each keeps its own database connection). Pages are"
            " CPU-bound under the GIL: more threads only help while pages wait on a service."
        ),
    )
    django_secret_key: SecretStr = SecretStr("dev-insecure-secret-key-change-me")
    django_debug: bool = False
    allowed_hosts: str = Field(default="127.0.0.1,localhost", description="Comma-separated.")
    csrf_trusted_origins: str = Field(default="", description="Comma-separated origins.")
    database_url: str = Field(default="sqlite:///var/wheeldesk.sqlite3")
    data_dir: Path = Path("var")
    backup_dir: Path | None = Field(
        default=None,
        description="Where the worker writes SQLite backups (unset: <DATA_DIR>/backups).",
    )
    backup_every_hours: float = Field(
        default=6.0, ge=0, le=168, description="Hours between online backups; 0 turns them off."
    )
    backup_keep: int = Field(default=28, ge=1, le=1000, description="Newest backups kept.")
    secure_cookies: bool = False


SETTINGS = load_settings(WebSettings)
