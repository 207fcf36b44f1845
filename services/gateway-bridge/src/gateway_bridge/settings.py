"""gateway-bridge settings: where IB Gateway/TWS is and how to treat it."""

from typing import Literal

from pydantic import Field
from wheeldesk.settings import DEFAULT_INTERNAL_TOKEN, BaseServiceSettings, ConfigError


class BridgeSettings(BaseServiceSettings):
    bridge_host: str = "127.0.0.1"
    bridge_port: int = Field(default=8001, ge=1, le=65535)
    ib_host: str = Field(default="127.0.0.1", description="IB Gateway/TWS host (tws-sim in demo).")
    ib_port: int = Field(
        default=4002,
        ge=1,
        le=65535,
        description="4002 Gateway paper, 4001 live; 7497 TWS paper, 7496 live.",
    )
    ib_client_id: int = Field(default=17, ge=0)
    ib_account: str | None = Field(
        default=None, description="Account id; the first managed one if unset."
    )
    ib_readonly: bool = False
    ib_market_data_type: Literal["live", "frozen", "delayed", "delayed-frozen"] = "live"
    allow_live_orders: bool = Field(
        default=False, description="Allow orders on a live (non-DU) account."
    )
    max_contracts_per_order: int = Field(default=10, ge=1)
    limit_price_tolerance_pct: float = Field(default=10.0, ge=0)
    market_data_lines: int = Field(default=100, ge=1)
    ib_messages_per_second: float = Field(default=45.0, gt=0, le=50)
    quote_publish_hz: float = Field(
        default=4.0, gt=0, description="Max quote events per symbol per second."
    )
    ib_connect_timeout: float = Field(
        default=10.0, gt=0, description="Seconds for one connect + initial sync attempt."
    )
    ib_reconnect_max_seconds: float = Field(
        default=30.0, gt=0, description="Cap of the exponential reconnect backoff."
    )
    ib_request_timeout: float = Field(
        default=20.0, gt=0, description="Seconds before an IB request is given up (504)."
    )
    queue_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Max seconds a request waits for a market data line before a 429.",
    )
    stream_lines_max: int = Field(
        default=80, ge=0, description="Lines streaming may hold; the rest stay for snapshots."
    )
    chain_max_contracts: int = Field(
        default=300,
        ge=1,
        description=(
            "Option quotes one chain request may ask IB for; more is a 422 chain_too_large"
            " (narrow the DTE window, give strikes or a delta band)."
        ),
    )
    chain_lines_max: int = Field(
        default=40,
        ge=1,
        description="Market data lines one chain request holds at once (others keep the rest).",
    )
    quote_cache_seconds: float = Field(
        default=1.0, ge=0, description="Snapshot quotes are reused this long (coalescing)."
    )
    secdef_cache_seconds: float = Field(
        default=3600.0, ge=0, description="TTL of option parameters and contract ids."
    )
    earnings_cache_seconds: float = Field(
        default=21600.0,
        ge=0,
        description="How long a Wall Street Horizon next-earnings answer is reused (per conId).",
    )
    earnings_retry_seconds: float = Field(
        default=600.0,
        ge=0,
        description="After WSH refused (no subscription, error) ask again only after this long.",
    )
    wsh_timeout: float = Field(
        default=4.0,
        gt=0,
        description="Seconds a stock request waits for Wall Street Horizon (queue included).",
    )
    ib_simulated: bool = Field(
        default=False,
        description="IB_PORT points at tws-sim: stock data is labelled simulated (demo).",
    )

    def check_secrets(self) -> None:
        """Demo mode is for tws-sim: with the public default token a real IB Gateway would be
        one DNS-rebinding page away from an order, and demo mode never trades live."""
        super().check_secrets()
        if not self.demo_mode:
            return
        if self.allow_live_orders:
            raise ConfigError("ALLOW_LIVE_ORDERS=true needs DEMO_MODE=false")
        token = self.internal_api_token.get_secret_value()
        if not self.ib_simulated and token == DEFAULT_INTERNAL_TOKEN:
            raise ConfigError(
                f"IB_PORT {self.ib_host}:{self.ib_port} is not tws-sim (IB_SIMULATED=false) and"
                " INTERNAL_API_TOKEN is the public demo default: set INTERNAL_API_TOKEN"
                " (openssl rand -hex 32) or DEMO_MODE=false"
            )
