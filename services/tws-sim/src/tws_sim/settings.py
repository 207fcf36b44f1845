"""tws-sim's settings: one class, read from the command line, the environment and `.env`.

Every option is a flag (`--control-port`) and an environment variable with the `TWS_SIM_`
prefix (`TWS_SIM_CONTROL_PORT`); a flag wins over the environment, the environment over `.env`,
and `.env` over the default here. The engine reads this object as its configuration, so a
default is written once.

tws-sim is no Wheeldesk service (never deployed against real money, no NATS, no token): it
does not take `wheeldesk.settings.BaseServiceSettings`, whose fields would all become flags.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, CliImplicitFlag, SettingsConfigDict
from wheeldesk.settings import format_validation_error

from tws_sim.account import ACCOUNT_ID
from tws_sim.market import parse_start

ENV_PREFIX = "TWS_SIM_"


class TwsSimSettings(BaseSettings):
    """The simulator's options (README: Run)."""

    # env_ignore_empty: compose passes `TWS_SIM_START: ${TWS_SIM_START:-}` and `.env.example`
    # has `TWS_SIM_START=`; empty means "the default".
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        cli_prog_name="tws_sim",
        cli_kebab_case=True,
        cli_hide_none_type=True,
    )

    host: str = Field(default="127.0.0.1", description="interface tws-sim binds")
    port: int = Field(default=4002, ge=1, le=65535, description="TWS API port")
    control_port: int = Field(
        default=4080, ge=1, le=65535, description="control API (fault injection) port"
    )
    seed: int = Field(default=7, description="seed of the simulated market")
    speed: float = Field(default=1.0, gt=0, description="simulated seconds per real second")
    snapshot_latency_ms: float = Field(
        default=0.0, ge=0, description="delay before a snapshot answers (0: the latency model's)"
    )
    max_lines: int = Field(
        default=100, ge=0, description="simultaneous market-data lines of the account"
    )
    pacing: int = Field(default=50, ge=0, description="client messages per second; 0 = off")
    tick_ms: float = Field(default=250.0, ge=0, description="market step / stream interval")
    cash: float = Field(default=250_000.0, ge=0, description="starting cash (USD)")
    account: str = Field(
        default=ACCOUNT_ID,
        min_length=1,
        description="the account id the login manages (DU… paper; U… looks live to the bridge)",
    )
    extra_symbols: int = Field(
        default=0,
        ge=0,
        description="add N synthetic stocks SIM001.. to the universe (benchmarks streaming many"
        " symbols)",
    )
    start: datetime | None = Field(
        default=None,
        description=(
            "simulated start moment, ISO 8601 (without an offset it is New York time), or 'demo'"
            " (now on a trading day, else the most recent trading day at 10:30 ET); default: the"
            " wall clock. Universe, chains, expiries, history and the starting positions follow"
            " from it (with the seed)"
        ),
    )
    latency: Literal["off", "realistic"] = Field(
        default="off",
        description="per-request delays drawn (seeded) around IB's: option snapshots ~1-2 s,"
        " contract details a few hundred ms, historical data soft-throttled",
    )
    # Entitlements, all granted by default (`--no-live-data` ... withdraws one).
    live_data: CliImplicitFlag[bool] = Field(
        default=True, description="live market data (without it: 354 on live requests, delayed)"
    )
    fundamentals: CliImplicitFlag[bool] = Field(
        default=True, description="fundamentals (without it: generic tick 258 gets 10358)"
    )
    greeks: CliImplicitFlag[bool] = Field(default=True, description="option model computations")
    wsh: CliImplicitFlag[bool] = Field(
        default=True, description="Wall Street Horizon (without it: 10276)"
    )
    # Not an entitlement: the Gateway's version (`--no-tick-258` emulates TWS API 10.47+).
    tick_258: CliImplicitFlag[bool] = Field(
        default=True,
        description="the Gateway knows generic tick 258, fundamental ratios (without it, as TWS"
        " API 10.47 and later: a tick list naming 258 gets 321 for the whole request)",
    )

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: object) -> object:
        return parse_start(value) if isinstance(value, str) and value.strip() else value


def load(argv: list[str] | None = None) -> TwsSimSettings:
    """The settings from `argv` (None: the process's arguments), the environment and `.env`.

    A bad value exits 2 with one line naming it (`TWS_SIM_PORT` for `--port` too); an unknown
    flag exits 2 with the usage, as argparse does."""
    try:
        return TwsSimSettings(_cli_parse_args=sys.argv[1:] if argv is None else argv)
    except ValidationError as exc:
        message = f"configuration error: {format_validation_error(exc, ENV_PREFIX)}"
    print(message, file=sys.stderr)
    raise SystemExit(2)
