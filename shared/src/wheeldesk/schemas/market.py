"""Market data crossing the bridge's HTTP API and `ibkr.quote.<SYMBOL>`."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field, computed_field, field_validator
from pydantic_core import PydanticCustomError

from wheeldesk.schemas.common import DataType, Event, Right, StrictModel, utcnow

# A US stock symbol as the bridge takes it (any case; upper-cased before IB sees it). Stated in
# the bridge's published schema (its `{symbol}` paths, the streaming set) and checked against it.
SYMBOL_PATTERN = r"^[A-Za-z][A-Za-z0-9.\-]{0,11}$"
SYMBOL = re.compile(SYMBOL_PATTERN)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


class Quote(BaseModel):
    """A stock quote. Always carries its time and IB's market data type."""

    symbol: str
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    volume: float | None = None
    close: float | None = None
    market_data_type: DataType = DataType.LIVE
    ts: datetime = Field(default_factory=utcnow)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mid(self) -> float | None:
        if self.bid and self.ask and self.bid > 0 and self.ask > 0:
            return round((self.bid + self.ask) / 2, 4)
        return None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def price(self) -> float | None:
        """Best single price: last, else mid, else close."""
        return _finite(self.last) or self.mid or _finite(self.close)


class QuoteEvent(Event, Quote):
    """Published on `ibkr.quote.<SYMBOL>` (core NATS, latest wins)."""


class FundamentalsStatus(StrEnum):
    """How IB answered the request for fundamental ratios (generic tick 258). Missing figures
    call for different actions: a refusal for the subscription (buy it), silence for a wait
    (latency, pacing, a data farm down: scan again), a Gateway without the tick (none to get
    from IB: judge without them)."""

    OK = "ok"  # IB sent its fundamental ratios (some may still be missing)
    NOT_SUBSCRIBED = "not_subscribed"  # IB refused with an error code (10358)
    NO_ANSWER = "no_answer"  # nothing from IB within the bridge's wait
    # The Gateway no longer knows tick 258 (TWS API 10.47 de-supported fundamentals; IB's 321)
    NOT_SUPPORTED = "not_supported"


class Fundamentals(BaseModel):
    """From IB generic tick 258 (fundamental ratios) plus the next earnings date when known
    (IB's Wall Street Horizon calendar)."""

    beta: float | None = None
    roe: float | None = Field(default=None, description="Return on equity, percent.")
    fcf_per_share: float | None = None
    free_cash_flow: float | None = Field(default=None, description="Free cash flow, USD.")
    market_cap: float | None = Field(default=None, description="Market capitalisation, USD.")
    dividend_yield: float | None = Field(default=None, description="Dividend yield, percent.")
    pe_ratio: float | None = None
    next_earnings: date | None = None
    next_earnings_note: str | None = Field(
        default=None,
        description="Where next_earnings came from (e.g. 'Wall Street Horizon (Confirmed, AMC)')"
        " or why it is unknown (no WSH subscription, IB timeout, none listed).",
    )
    ex_dividend: date | None = None
    status: FundamentalsStatus | None = Field(
        default=None,
        description="How IB answered tick 258; null when not said (inline data, an older bridge).",
    )
    ib_code: int | None = Field(
        default=None,
        description="IB's error code when status is not_subscribed (e.g. 10358) or"
        " not_supported (321).",
    )
    reason: str | None = Field(
        default=None,
        description="IB's message when not_subscribed; what was waited for when no_answer; why"
        " none can come when not_supported.",
    )


# The ratios of tick 258; none of them set means IB sent nothing at all.
_RATIOS = (
    "beta",
    "roe",
    "fcf_per_share",
    "free_cash_flow",
    "market_cap",
    "dividend_yield",
    "pe_ratio",
)


def fundamentals_missing(f: Fundamentals) -> str | None:
    """Why IB sent no fundamental ratios, as the bridge said (`Fundamentals.status`), in the
    words both the screener's skipped rules and the stock page use: the trader buys the
    subscription for a refusal, and waits or scans again when IB sent nothing. None when IB
    answered (a ratio still missing is one IB did not report)."""
    if f.status == FundamentalsStatus.NOT_SUBSCRIBED:
        said = f"IB error {f.ib_code}" + (f": {f.reason.rstrip('.')}" if f.reason else "")
        return f"not subscribed ({said})"
    if f.status == FundamentalsStatus.NOT_SUPPORTED:
        return f"{f.reason} (IB error {f.ib_code})"
    if f.status == FundamentalsStatus.NO_ANSWER:
        waited = f"{f.reason}; " if f.reason else ""
        return f"no answer in time ({waited}scan again later)"
    if f.status == FundamentalsStatus.OK or any(getattr(f, r) is not None for r in _RATIOS):
        return None
    # an older bridge, or inline data: no status said, and no ratio either
    return "tick 258 not subscribed or not answered"


class StockInfo(BaseModel):
    symbol: str
    name: str | None = None
    sector: str | None = None
    primary_exchange: str | None = None
    conid: int | None = None
    quote: Quote
    fundamentals: Fundamentals = Fundamentals()
    implied_volatility: float | None = Field(
        default=None,
        description="30-day implied volatility of the stock (IB tick 106), a fraction.",
    )
    simulated: bool = Field(default=False, description="True when the data came from tws-sim.")


class Bar(BaseModel):
    date: date
    open: float
    high: float
    low: float
    close: float
    volume: float = 0


class History(BaseModel):
    symbol: str
    what: str = "TRADES"
    bars: list[Bar]
    iv_bars: list[Bar] = Field(
        default_factory=list, description="Daily implied volatility (OPTION_IMPLIED_VOLATILITY)."
    )


class OptionContract(BaseModel):
    symbol: str
    expiry: date
    strike: float
    right: Right
    multiplier: int = 100
    conid: int | None = None
    trading_class: str | None = None
    exchange: str = "SMART"
    currency: str = "USD"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def key(self) -> str:
        """Human/stable id, e.g. `AAPL 2026-12-18 180P`."""
        return f"{self.symbol} {self.expiry.isoformat()} {self.strike:g}{self.right}"


class Greeks(BaseModel):
    iv: float | None = None
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None


class OptionQuote(BaseModel):
    contract: OptionContract
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    volume: float | None = None
    open_interest: float | None = None
    iv: float | None = None
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None
    underlying_price: float | None = None
    greeks_source: str = Field(default="ib", description="'ib' or 'model' (computed locally).")
    market_data_type: DataType = DataType.LIVE
    ts: datetime = Field(default_factory=utcnow)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mid(self) -> float | None:
        if self.bid is not None and self.ask is not None and self.bid >= 0 and self.ask > 0:
            return round((self.bid + self.ask) / 2, 4)
        return None


class Chain(BaseModel):
    symbol: str
    right: Right | None = None
    underlying: Quote
    expirations: list[date] = Field(description="Expiries inside the requested DTE window.")
    options: list[OptionQuote]
    quotes_requested: int = Field(default=0, description="Option quotes requested from IB.")
    market_data_type: DataType = DataType.LIVE
    ts: datetime = Field(default_factory=utcnow)


class ChainExpirations(BaseModel):
    """`GET /v1/chains/{symbol}/expirations`: every listed expiry from today on, without a
    single quote (IB's option parameters), so a page can list the expiries and then ask
    `/v1/chains/{symbol}` for one of them only."""

    symbol: str
    expirations: list[date]


class SubscriptionRequest(StrictModel):
    """`POST /v1/subscriptions`: the symbols the bridge should stream (replaces the set)."""

    symbols: list[str] = Field(
        max_length=500, json_schema_extra={"items": {"type": "string", "pattern": SYMBOL_PATTERN}}
    )

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, v: list[str]) -> list[str]:
        for symbol in v:
            if not SYMBOL.fullmatch(symbol):
                raise PydanticCustomError(
                    "symbol", "{symbol} is not a symbol", {"symbol": repr(symbol)}
                )
        return v


class Subscriptions(BaseModel):
    """Which symbols stream on `ibkr.quote.<SYMBOL>`, and the market data lines they hold."""

    symbols: list[str] = Field(description="Requested, in order.")
    streaming: list[str] = Field(description="Actually streaming now.")
    errors: dict[str, str] = Field(default_factory=dict, description="Why a symbol is not.")
    lines_in_use: int = 0
    lines_capacity: int = 0
    stream_lines: int = 0
    stream_lines_max: int = 0
