"""Orders, previews, executions: the bridge's order API and `ibkr.order.<id>` events."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, StrictInt, field_validator, model_validator

from wheeldesk.schemas.common import Event, Right, SecType, StrictModel, utcnow


class OrderStatus(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        return self in {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED}


class OrderRequest(StrictModel):
    """One leg. `client_order_id` makes the request idempotent (stored in IB's orderRef)."""

    client_order_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$")
    symbol: str = Field(min_length=1, max_length=12)
    sec_type: SecType = "OPT"
    expiry: date | None = None
    strike: float | None = Field(default=None, gt=0)
    right: Right | None = None
    action: Literal["BUY", "SELL"]
    # Strict: JSON `true` (or "5", 5.0) is no quantity; lax ints read `true` as 1 contract.
    quantity: StrictInt = Field(gt=0)
    order_type: Literal["LMT", "MKT"] = "LMT"
    limit_price: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=4)
    tif: Literal["DAY", "GTC"] = "DAY"
    force: bool = Field(default=False, description="Bypass the limit-vs-market tolerance check.")

    @field_validator("symbol")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.strip().upper()

    @model_validator(mode="after")
    def _consistent(self) -> OrderRequest:
        if self.sec_type == "OPT" and (
            self.expiry is None or self.strike is None or self.right is None
        ):
            raise ValueError("option orders need expiry, strike and right")
        if self.order_type == "LMT" and self.limit_price is None:
            raise ValueError("limit_price is required for LMT orders")
        return self


class OrderPreview(BaseModel):
    """What-if answer from IB, plus the bridge's own checks."""

    request: OrderRequest
    account_id: str
    is_paper: bool
    commission: float | None = None
    min_commission: float | None = None
    max_commission: float | None = None
    init_margin_change: float | None = None
    maint_margin_change: float | None = None
    equity_with_loan_change: float | None = None
    buying_power_before: float | None = None
    buying_power_after: float | None = None
    bid: float | None = None
    ask: float | None = None
    mid: float | None = None
    warnings: list[str] = Field(default_factory=list)


class Fill(BaseModel):
    exec_id: str
    order_id: int | None = None
    perm_id: int | None = None
    client_order_id: str | None = None
    account_id: str | None = None
    time: datetime
    symbol: str
    sec_type: SecType
    expiry: date | None = None
    strike: float | None = None
    right: Right | None = None
    multiplier: int = 1
    side: Literal["BOT", "SLD"]
    quantity: float
    price: float
    commission: float | None = None
    realized_pnl: float | None = None
    exchange: str | None = None
    kind: Literal["trade", "assignment", "exercise", "expiration"] = "trade"


class Order(BaseModel):
    order_id: int
    perm_id: int | None = None
    client_order_id: str
    account_id: str | None = None
    request: OrderRequest
    status: OrderStatus
    ib_status: str | None = None
    filled: float = 0
    remaining: float = 0
    avg_fill_price: float | None = None
    commission: float | None = None
    fills: list[Fill] = Field(default_factory=list)
    message: str | None = Field(default=None, description="IB's reason when rejected.")
    created: datetime = Field(default_factory=utcnow)
    updated: datetime = Field(default_factory=utcnow)


class OrderEvent(Event):
    """`ibkr.order.<order_id>` on JetStream: status, fill or commission changed."""

    kind: Literal["status", "fill", "commission"] = "status"
    order: Order
    fill: Fill | None = None


class ExecutionEvent(Event):
    """`ibkr.execution.<exec_id>` on JetStream: every execution, including assignments."""

    fill: Fill
