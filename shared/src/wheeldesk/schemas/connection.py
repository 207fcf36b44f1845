"""`ibkr.connection` events and the bridge's connection status."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from wheeldesk.schemas.common import DataType, Event, utcnow

ConnectionState = Literal[
    "connected",
    "disconnected",
    "connectivity_lost",
    "connectivity_restored",
    "farm_down",
    "farm_up",
]


class ConnectionStatus(BaseModel):
    connected: bool
    state: ConnectionState
    reason: str | None = None
    ib_code: int | None = None
    account_id: str | None = None
    server_version: int | None = None
    market_data_type: DataType | None = None
    since: datetime = Field(default_factory=utcnow)
    server_time: datetime | None = Field(
        default=None,
        description=(
            "IB's clock when the status was answered (UTC). Every 'today' and DTE follows it:"
            " see wheeldesk.markettime.BrokerClock. None while disconnected."
        ),
    )
    simulated: bool = Field(
        default=False,
        description="IB_SIMULATED: the data comes from tws-sim, never a real market (demo).",
    )
    market_open: bool | None = Field(
        default=None,
        description=(
            "US regular trading hours (NYSE calendar) at server_time; outside them quotes are"
            " frozen (the last session's) or absent. None: unknown (disconnected)."
        ),
    )
    last_close: datetime | None = Field(
        default=None, description="The most recent regular-session close (UTC)."
    )
    next_open: datetime | None = Field(
        default=None, description="The next regular-session open (UTC)."
    )


class ConnectionEvent(Event, ConnectionStatus):
    """Published on `ibkr.connection` (JetStream)."""
