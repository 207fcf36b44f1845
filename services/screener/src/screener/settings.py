"""Screener settings."""

from pydantic import Field
from wheeldesk.settings import BaseServiceSettings


class ScreenerSettings(BaseServiceSettings):
    screener_host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    screener_port: int = Field(default=8002, ge=1, le=65535, description="HTTP port.")
    screener_bridge_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Symbols fetched from gateway-bridge at once (its IB pacing is shared).",
    )
    risk_free_rate: float = Field(
        default=0.04,
        ge=-0.05,
        le=0.25,
        description="Continuously compounded risk-free rate for Black-Scholes (0.04 = 4%).",
    )
