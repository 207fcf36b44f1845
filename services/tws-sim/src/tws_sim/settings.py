"""tws-sim's environment defaults (`TWS_SIM_*`); the CLI flags of the contract override them."""

from __future__ import annotations

from pydantic import Field
from wheeldesk.settings import BaseServiceSettings


class TwsSimSettings(BaseServiceSettings):
    tws_sim_host: str = Field(default="127.0.0.1", description="Interface tws-sim binds.")
    tws_sim_port: int = Field(default=4002, ge=1, le=65535, description="TWS API port.")
    tws_sim_control_port: int = Field(
        default=4080, ge=1, le=65535, description="Control API (fault injection) port."
    )
    tws_sim_seed: int = Field(default=7, description="Seed of the simulated market.")
    tws_sim_speed: float = Field(default=1.0, gt=0, description="Simulated seconds per second.")

    def check_secrets(self) -> None:
        """tws-sim holds no secrets (it is never deployed against real money)."""
