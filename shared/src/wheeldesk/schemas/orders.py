"""Orders, previews, executions: the bridge's order API and `ibkr.order.<id>` events."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from wheeldesk.schemas.common import Event, Right, SecType, StrictModel, utcnow


def _whole_number(value: Any) -> Any:
    """A count is a JSON number: `true` (lax ints read it as 1 contract) and "5" are refused;
    1043.0 is 1043 (JSON Schema's `integer` admits it, so the published schema holds)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]

# Money in IB's grid: at most 8 whole digits and 4 decimals (12 digits). A JSON number is a
# multiple of 0.0001; a string is spelled plainly (no exponent, sign or spaces), so that what
# the published schema admits is exactly what is accepted (schemathesis checks both ways).
_FRACTION = r"(?:\.\d{1,4})?"
_NONZERO_FRACTION = r"0\.(?:[1-9]\d{0,3}|0[1-9]\d{0,2}|00[1-9]\d?|000[1-9])"
POSITIVE_PRICE = rf"^(?:[1-9]\d{{0,7}}{_FRACTION}|{_NONZERO_FRACTION})$"
SIGNED_PRICE = rf"^-?(?:0|[1-9]\d{{0,7}}){_FRACTION}$"
STEP = rf"^(?:[1-9]\d?{_FRACTION}|100(?:\.0{{1,4}})?|{_NONZERO_FRACTION})$"
_LARGEST = 99_999_999.9999


def _money(pattern: str, number: dict[str, float]) -> Any:
    """A Decimal as the schema states it (a number or a plain string) and the check on a
    string that makes the API refuse exactly what the schema does."""

    def plain(value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(pattern, value):
            raise PydanticCustomError(
                "decimal_parsing",
                "Input should be a decimal of at most 8 whole digits and 4 decimals",
            )
        return value

    schema = {"anyOf": [{"type": "number", "multipleOf": 0.0001, **number},
                        {"type": "string", "pattern": pattern}]}  # fmt: skip
    return (BeforeValidator(plain), WithJsonSchema(schema, mode="validation"))


PositivePrice = Annotated[
    Decimal,
    *_money(POSITIVE_PRICE, {"exclusiveMinimum": 0, "maximum": _LARGEST}),
    Field(gt=0, max_digits=12, decimal_places=4),
]
SignedPrice = Annotated[
    Decimal,
    *_money(SIGNED_PRICE, {"minimum": -_LARGEST, "maximum": _LARGEST}),
    Field(max_digits=12, decimal_places=4),
]
Step = Annotated[
    Decimal,
    *_money(STEP, {"exclusiveMinimum": 0, "maximum": 100}),
    Field(gt=0, le=100, max_digits=8, decimal_places=4),
]


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
    """One leg. `client_order_id` makes the request idempotent (stored in IB's orderRef).
    A LMT order is placed only with a `limit_price`; a preview without one is priced by the
    bridge (`OrderPreview.suggested_limit`)."""

    # The published schema states `_consistent`: an option names its contract.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["sec_type"], "properties": {"sec_type": {"const": "STK"}}},
                {
                    "required": ["expiry", "strike", "right"],
                    "properties": {
                        "expiry": {"type": "string", "format": "date"},
                        "strike": {"type": "number", "exclusiveMinimum": 0},
                        "right": {"enum": ["P", "C"]},
                    },
                },
            ]
        }
    )

    client_order_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$")
    symbol: str = Field(min_length=1, max_length=12)
    sec_type: SecType = "OPT"
    expiry: date | None = None
    strike: float | None = Field(default=None, gt=0)
    right: Right | None = None
    action: Literal["BUY", "SELL"]
    quantity: WholeNumber = Field(gt=0)
    order_type: Literal["LMT", "MKT"] = "LMT"
    limit_price: PositivePrice | None = None
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
        # A LMT request without a limit may be previewed (the bridge runs IB's what-if at the
        # limit it suggests from the quote now, never at a placeholder); placing needs one.
        return self


class ComboLeg(StrictModel):
    """One leg of a combo order: an option on the combo's underlying, bought or sold `ratio`
    times per combo unit."""

    expiry: date
    strike: float = Field(gt=0)
    right: Right
    action: Literal["BUY", "SELL"]
    ratio: WholeNumber = Field(default=1, ge=1, le=10)


class ComboOrderRequest(StrictModel):
    """A roll (or any option spread on one underlying) as ONE IB combo (BAG) order: no leg can
    fill without the other.

    `limit_price` is IB's net price for the combo as the legs are written: the BUY legs' prices
    minus the SELL legs'. Negative is a credit: a roll written BUY old / SELL new, bought at
    -0.45, takes in $0.45 a share. A preview without a limit runs at the bridge's suggested
    one; placing needs one. `client_order_id` makes it idempotent like a single order."""

    client_order_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$")
    symbol: str = Field(min_length=1, max_length=12)
    sec_type: Literal["BAG"] = "BAG"
    legs: list[ComboLeg] = Field(min_length=2, max_length=4)
    action: Literal["BUY", "SELL"] = "BUY"
    quantity: WholeNumber = Field(gt=0)
    order_type: Literal["LMT"] = "LMT"
    limit_price: SignedPrice | None = None
    tif: Literal["DAY", "GTC"] = "DAY"
    force: bool = Field(default=False, description="Bypass the limit-vs-market tolerance check.")

    @field_validator("symbol")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.strip().upper()

    @model_validator(mode="after")
    def _distinct(self) -> ComboOrderRequest:
        keys = [(leg.expiry, leg.strike, leg.right) for leg in self.legs]
        if len(set(keys)) != len(keys):
            raise ValueError("legs: each leg must be a different contract")
        return self


class OrderModify(StrictModel):
    """A new limit for a working order: IB modifies the same order (same id), it is not a new
    one. A combo's net may be zero or negative (a credit).

    Either the new `limit_price`, or a `step` for the bridge to take from the working limit
    toward the market (down for a sell, up for a buy) on the contract's tick grid and never past
    the far side (the bid for a sell, the ask for a buy): the automatic re-price's way."""

    # The published schema states `_one_of`.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["limit_price"],
                    "properties": {
                        "limit_price": {"not": {"type": "null"}},
                        "step": {"type": "null"},
                    },
                },
                {
                    "required": ["step"],
                    "properties": {
                        "step": {"not": {"type": "null"}},
                        "limit_price": {"type": "null"},
                    },
                },
            ]
        }
    )

    limit_price: SignedPrice | None = None
    step: Step | None = None

    @model_validator(mode="after")
    def _one_of(self) -> OrderModify:
        if (self.limit_price is None) == (self.step is None):
            raise ValueError("limit_price: give either limit_price or step")
        return self


class LegQuote(BaseModel):
    """A combo leg as the preview priced it: IB's conId and its bid/ask now."""

    expiry: date
    strike: float
    right: Right
    action: Literal["BUY", "SELL"]
    ratio: int
    con_id: int | None = None
    bid: float | None = None
    ask: float | None = None


class _PreviewFigures(BaseModel):
    """What a preview says besides its request: IB's what-if, the quote now, the suggestion."""

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
    # The limit the bridge suggests from the quote now, on the contract's real tick grid: the
    # mid rounded toward the trader's side (down for a sell, up for a buy), never through the
    # bid or the ask. The what-if runs at it when the request has no limit.
    suggested_limit: float | None = None
    warnings: list[str] = Field(default_factory=list)


class OrderPreview(_PreviewFigures):
    """What-if answer from IB, plus the bridge's own checks."""

    request: OrderRequest


class ComboPreview(_PreviewFigures):
    """A combo's what-if (margin and commission of the whole order). bid/ask/mid are the
    combo's natural market in IB's sign convention: the BUY legs at their bid (ask) minus the
    SELL legs at their ask (bid)."""

    request: ComboOrderRequest
    legs: list[LegQuote] = Field(default_factory=list)


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
    # A combo (BAG) order carries its legs; its fills are the legs' executions, each under
    # the combo's order id.
    request: OrderRequest | ComboOrderRequest
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
