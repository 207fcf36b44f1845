"""tws-sim's environment defaults (`TWS_SIM_*`); the CLI flags of the contract override them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator
from wheeldesk.settings import BaseServiceSettings

from tws_sim.market import parse_start


class TwsSimSettings(BaseServiceSettings):
    tws_sim_host: str = Field(default="127.0.0.1", description="Interface tws-sim binds.")
    tws_sim_port: int = Field(default=4002, ge=1, le=65535, description="TWS API port.")
    tws_sim_control_port: int = Field(
        default=4080, ge=1, le=65535, description="Control API (fault injection) port."
    )
    tws_sim_seed: int = Field(default=7, description="Seed of the simulated market.")
    tws_sim_speed: float = Field(default=1.0, gt=0, description="Simulated seconds per second.")
    tws_sim_start: datetime | None = Field(
        default=None,
        description=(
            "Simulated start moment, ISO 8601 (e.g. 2026-06-17T10:30:00-04:00; without an offset"
            " it is New York time). Empty: the wall clock. Universe, chains, expiries, history and"
            " the starting positions follow from it (with the seed)."
        ),
    )

    @field_validator("tws_sim_start", mode="before")
    @classmethod
    def _start(cls, value: object) -> object:
        return parse_start(value) if isinstance(value, str) and value.strip() else value

    def check_secrets(self) -> None:
        """tws-sim holds no secrets (it is never deployed against real money)."""
