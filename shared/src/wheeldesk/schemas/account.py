"""Account and positions: `GET /v1/account`, `GET /v1/positions`, `ibkr.account`, `ibkr.position`."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, computed_field

from wheeldesk.schemas.common import Event, Right, SecType, utcnow


class Account(BaseModel):
    account_id: str
    is_paper: bool = Field(description="Paper accounts have ids starting with DU.")
    currency: str = "USD"
    net_liquidation: float | None = None
    cash: float | None = Field(default=None, description="TotalCashValue.")
    buying_power: float | None = None
    excess_liquidity: float | None = None
    maintenance_margin: float | None = None
    initial_margin: float | None = None
    available_funds: float | None = None
    unrealized_pnl: float | None = None
    realized_pnl: float | None = None
    ts: datetime = Field(default_factory=utcnow)


class Position(BaseModel):
    account_id: str
    symbol: str
    sec_type: SecType
    quantity: float
    avg_cost: float = Field(
        description="Per share for stock; per contract (x100) for options, as IB reports."
    )
    conid: int | None = None
    expiry: date | None = None
    strike: float | None = None
    right: Right | None = None
    multiplier: int = 1
    market_price: float | None = None
    market_value: float | None = None
    unrealized_pnl: float | None = None
    realized_pnl: float | None = None

    @property
    def contract_multiplier(self) -> int:
        """Shares per contract: an option's multiplier, 100 when the source left the default 1
        (no US equity option has 1, and dividing by 1 would show a per-contract cost as a
        per-share price); 1 for stock."""
        if self.sec_type != "OPT":
            return 1
        return self.multiplier if self.multiplier and self.multiplier > 1 else 100

    @computed_field  # type: ignore[prop-decorator]
    @property
    def avg_price(self) -> float:
        """Average cost per share, comparable with `market_price` and an option's premium
        (IB reports an option's avg cost per contract, x multiplier). The one place this
        conversion is made: the UI shows it and the screener counts premium received from it."""
        return self.avg_cost / self.contract_multiplier


class AccountEvent(Event, Account):
    """`ibkr.account` on JetStream: account values changed."""


class PositionEvent(Event, Position):
    """`ibkr.position` on JetStream: a position changed (quantity 0 = closed)."""
