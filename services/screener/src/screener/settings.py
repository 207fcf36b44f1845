"""Screener settings."""

from pydantic import Field
from wheeldesk.settings import BaseServiceSettings


class ScreenerSettings(BaseServiceSettings):
    screener_host: str = "127.0.0.1"
    screener_port: int = Field(default=8002, ge=1, le=65535)
    screener_bridge_concurrency: int = Field(default=4, ge=1, le=64)
    risk_free_rate: float = Field(default=0.04, ge=-0.05, le=0.25)
