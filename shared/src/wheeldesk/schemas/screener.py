"""Screener contracts: criteria, scan requests, signals and rejections ("why not").

Owned by the screener issue; the web stores these numbers verbatim.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from wheeldesk.schemas.account import Position
from wheeldesk.schemas.common import Event, Right, StrictModel, utcnow
from wheeldesk.schemas.market import Chain, Fundamentals, OptionContract, Quote

SignalKind = Literal["CSP", "CC", "ROLL", "CLOSE"]
Tier = Literal["A", "B", "C"]
# A ticker as IB spells it ("KO", "BRK B", "BF.B"); anything else is refused with 422 before
# it can reach a bridge URL (control characters made httpx raise → 500, found by schemathesis).
TICKER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9. /\-]{0,19}$"
Ticker = Annotated[str, StringConstraints(pattern=TICKER_PATTERN)]


class Criteria(StrictModel):
    """Every screening rule, with the defaults a conservative wheel trader would start from."""

    # fundamentals
    min_roe: float | None = Field(
        default=10.0, description="Minimum return on equity, % (empty = no minimum)."
    )
    require_positive_fcf: bool = Field(
        default=True, description="Only stocks whose free cash flow is positive."
    )
    max_beta: float | None = Field(
        default=1.5, ge=0, description="Maximum beta (volatility against the market)."
    )
    min_price: float | None = Field(default=10.0, ge=0, description="Minimum stock price, USD.")
    max_price: float | None = Field(default=500.0, gt=0, description="Maximum stock price, USD.")
    min_market_cap: float | None = Field(
        default=10e9, ge=0, description="Minimum market capitalisation, USD."
    )
    # option filters
    dte_min: int = Field(default=7, ge=0, le=730, description="Minimum days to expiry.")
    dte_max: int = Field(default=45, ge=0, le=730, description="Maximum days to expiry.")
    delta_min: float = Field(default=0.15, ge=0, le=1, description="Minimum |delta| (0–1).")
    delta_max: float = Field(default=0.30, ge=0, le=1, description="Maximum |delta| (0–1).")
    min_iv: float | None = Field(
        default=None, ge=0, description="Minimum IV, as a fraction (0.25 = 25%)."
    )
    min_iv_rank: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Minimum IV rank, 0–100 (where IV sits in its 52-week low–high range).",
    )
    min_open_interest: int = Field(
        default=100, ge=0, description="Minimum open interest, contracts."
    )
    max_spread_pct: float = Field(
        default=10.0, ge=0, description="Maximum bid–ask spread, % of the mid: (ask-bid)/mid."
    )
    min_premium: float = Field(default=0.10, ge=0, description="Minimum premium per share, USD.")
    min_apy: float = Field(default=10.0, ge=0, description="Minimum annualised yield (APY), %.")
    max_collateral: float | None = Field(
        default=None, gt=0, description="Per-position cap on a put's collateral, USD."
    )
    earnings: Literal["exclude", "flag", "ignore"] = Field(
        default="exclude",
        description="Expiries spanning the next earnings date: exclude, flag or ignore.",
    )
    premium_basis: Literal["bid", "mid"] = Field(
        default="bid", description="Premium counted at the bid (what a sell fills at) or mid."
    )
    cc_min_strike_vs_basis: bool = Field(
        default=True, description="Calls only at strike >= cost basis."
    )
    # roll / close
    take_profit_pct: float = Field(
        default=50.0,
        ge=0,
        le=100,
        description="Suggest closing a short option once this % of its premium is captured.",
    )
    roll_dte: int = Field(
        default=7,
        ge=0,
        le=730,
        description="Suggest rolling a short option at or below this many days to expiry.",
    )
    max_signals_per_symbol: int = Field(
        default=3, ge=1, le=50, description="Best signals kept per symbol and kind."
    )
    # covered calls: their own band, window and yield (empty = the same as the puts')
    cc_dte_min: int | None = Field(
        default=None, ge=0, le=730, description="Covered calls: minimum days to expiry."
    )
    cc_dte_max: int | None = Field(
        default=None, ge=0, le=730, description="Covered calls: maximum days to expiry."
    )
    cc_delta_min: float | None = Field(
        default=None, ge=0, le=1, description="Covered calls: minimum |delta| (0–1)."
    )
    cc_delta_max: float | None = Field(
        default=None, ge=0, le=1, description="Covered calls: maximum |delta| (0–1)."
    )
    cc_min_apy: float | None = Field(
        default=None, ge=0, description="Covered calls: minimum annualised yield (APY), %."
    )

    # Field validators (not one model validator) so a 422 names the field at fault.
    @field_validator("dte_max")
    @classmethod
    def _dte_window(cls, v: int, info: ValidationInfo) -> int:
        low = info.data.get("dte_min")
        if low is not None and low > v:
            raise ValueError("dte_min must be <= dte_max")
        return v

    @field_validator("delta_max")
    @classmethod
    def _delta_band(cls, v: float, info: ValidationInfo) -> float:
        low = info.data.get("delta_min")
        if low is not None and low > v:
            raise ValueError("delta_min must be <= delta_max")
        return v

    @field_validator("cc_dte_max")
    @classmethod
    def _cc_dte_window(cls, v: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("cc_dte_min")
        if v is not None and low is not None and low > v:
            raise ValueError("the covered calls' minimum DTE must be at most their maximum")
        return v

    @field_validator("cc_delta_max")
    @classmethod
    def _cc_delta_band(cls, v: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("cc_delta_min")
        if v is not None and low is not None and low > v:
            raise ValueError("the covered calls' minimum |delta| must be at most their maximum")
        return v

    def for_kind(self, kind: str) -> Criteria:
        """The rules a sale of `kind` is screened on: a covered call takes its own DTE window,
        delta band and minimum APY where set (a trader sells calls nearer the money and
        shorter than puts); everything else, and every other kind, is shared."""
        if kind != "CC":
            return self
        own = {
            "dte_min": self.cc_dte_min,
            "dte_max": self.cc_dte_max,
            "delta_min": self.cc_delta_min,
            "delta_max": self.cc_delta_max,
            "min_apy": self.cc_min_apy,
        }
        changes = {k: v for k, v in own.items() if v is not None}
        if not changes:
            return self
        merged = self.model_dump() | changes
        # a one-sided override can cross the shared other end: widen it to stay a window
        if merged["dte_min"] > merged["dte_max"]:
            if "dte_min" in changes:
                merged["dte_max"] = merged["dte_min"]
            else:
                merged["dte_min"] = merged["dte_max"]
        if merged["delta_min"] > merged["delta_max"]:
            if "delta_min" in changes:
                merged["delta_max"] = merged["delta_min"]
            else:
                merged["delta_min"] = merged["delta_max"]
        return Criteria(**merged)

    @field_validator("max_price")
    @classmethod
    def _price_range(cls, v: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min_price")
        if v is not None and low is not None and low > v:
            raise ValueError("min_price must be <= max_price")
        return v


class SymbolData(BaseModel):
    """Inline market data for one symbol (lets a caller scan without the bridge)."""

    symbol: str
    quote: Quote
    fundamentals: Fundamentals = Fundamentals()
    chains: list[Chain] = Field(default_factory=list)
    iv_history: list[float] = Field(
        default_factory=list,
        description="A year of daily IV, fractions (0.25 = 25 %), oldest first, the last "
        "point today's.",
    )


class ScanRequest(StrictModel):
    symbols: list[Ticker] = Field(min_length=1, max_length=1000)
    criteria: Criteria = Criteria()
    positions: list[Position] = Field(default_factory=list)
    buying_power: float | None = Field(default=None, description="Buying power, USD.")
    cash_capacity: float | None = Field(
        default=None,
        description="Cash-secured capacity, USD: cash - collateral of the short puts held - "
        "collateral of working sell-put orders. A put whose collateral (strike x 100) exceeds "
        "it is rejected ('cash_capacity'): a cash-secured put needs cash, not margin.",
    )
    data: list[SymbolData] | None = None
    now: datetime | None = Field(
        default=None,
        description="The moment the scan is for (DTE, 'today'); default the broker's clock "
        "(IB's, from the bridge). Set it to replay or test a scan at a pinned moment.",
    )
    cost_basis: dict[Ticker, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        description="The ledger's premium-adjusted cost basis of the shares held, USD per "
        "share, by symbol (e.g. {'KO': 47.10}). Covered calls use it when given; otherwise "
        "IB's average cost of the position, labelled as such.",
        # pydantic publishes the key rule as patternProperties, which leaves other keys free;
        # propertyNames states that every key must be a ticker, as validation checks.
        json_schema_extra={"propertyNames": {"pattern": TICKER_PATTERN}},
    )

    @field_validator("cost_basis")
    @classmethod
    def _upper_symbols(cls, v: dict[str, float]) -> dict[str, float]:
        """Symbols as the scan spells them (upper case), so 'ko' finds KO's shares."""
        return {k.strip().upper(): x for k, x in v.items()}


class Signal(BaseModel):
    """One suggestion with every number behind it.

    Units: prices and premiums are USD per share (x multiplier for a contract); fields ending
    in `_pct`, `apy*`, `pop`, `prob_profit`, `score` are percent (12.5 = 12.5 %); `iv` is a
    fraction (0.25 = 25 %). A number that does not apply to the kind is null, never 0.
    """

    kind: SignalKind
    symbol: str
    contract: OptionContract = Field(
        description="CSP/CC: the option to sell; ROLL: the new "
        "option to sell; CLOSE: the short option to buy back."
    )
    premium_basis: Literal["bid", "mid", "ask"] = Field(
        description="Which quote `premium` is: bid or mid for a sale, ask or mid for a "
        "buy-back (CLOSE)."
    )
    premium: float = Field(
        description="USD per share: collected on a sale (CSP/CC/ROLL's new option), paid on a "
        "buy-back (CLOSE: the cost to close)."
    )
    collateral: float = Field(description="USD per contract held as cover.")
    quantity: int = Field(
        default=1,
        ge=1,
        description="Contracts the signal is for. CC: the uncovered lots (shares // 100 - "
        "short calls held); CSP: 1, its collateral within the cash-secured capacity; "
        "ROLL/CLOSE: the short contracts held.",
    )
    yield_pct: float | None = Field(
        default=None,
        description="Premium / collateral per share, %. ROLL: net credit / collateral. "
        "Null for CLOSE (a buy-back earns no yield).",
    )
    apy: float | None = Field(
        default=None,
        description="Simple annualised yield, %: yield x 365 / days. ROLL: on the net credit "
        "over the days the roll adds. Null for CLOSE.",
    )
    apy_compounded: float | None = Field(
        default=None, description="Compounded: ((1 + yield)^(365 / days) - 1) x 100, %."
    )
    pop: float | None = Field(
        description="P(OTM): probability the option expires out of the money, % (risk-neutral, "
        "short put N(d2), short call N(-d2)). Not the probability of profit. Null when no IV "
        "can be had (a held option at its exercise value on a stock without IV history)."
    )
    prob_profit: float | None = Field(
        default=None,
        description="P(profit): probability the position ends beyond its breakeven at expiry "
        "(S_T > breakeven for a short put or a covered call), %. Null for CLOSE.",
    )
    abs_delta: float | None = Field(description="|delta|, 0–1 (per share, per 1 USD).")
    breakeven: float | None = Field(
        description="USD per share. ROLL: the whole position's after the roll (strike - every "
        "credit received, or cost basis - credits for a covered call). Null for CLOSE."
    )
    expected_move: float | None = Field(
        description="One standard deviation to expiry, USD (null without an IV)."
    )
    distance_pct: float = Field(description="Strike's distance out of the money, % of price.")
    distance_em: float | None = Field(description="The same distance in expected moves.")
    spread_pct: float | None = Field(description="(ask - bid) / mid, %.")
    open_interest: float | None = Field(description="Contracts.")
    volume: float | None = Field(description="Contracts traded today.")
    iv: float | None = Field(description="Implied volatility, a fraction (0.25 = 25 %).")
    iv_rank: float | None = Field(description="0–100.")
    iv_percentile: float | None = Field(
        default=None,
        description="0–100: share of the past year's days (today excluded) with IV below today's.",
    )
    dte: int = Field(description="Whole calendar days to expiry (New York date).")
    underlying_price: float = Field(description="USD.")
    if_called_return: float | None = Field(default=None, description="CC: %, on cost basis.")
    net_credit: float | None = Field(
        default=None,
        description="ROLL: new premium - buy-back cost, USD per share (negative = debit). "
        "CLOSE: minus the cost to close.",
    )
    cost_basis: float | None = Field(
        default=None, description="CC (and a call's ROLL): the share basis used, USD per share."
    )
    cost_basis_source: Literal["ledger", "ib_avg_cost"] | None = Field(
        default=None,
        description="Where cost_basis came from: the ledger's premium-adjusted basis, or IB's "
        "average cost (the ledger had none).",
    )
    ib_avg_cost: float | None = Field(
        default=None, description="IB's average cost of the shares, USD per share, for show."
    )
    bid: float | None = None
    ask: float | None = None
    fundamentals: Fundamentals = Fundamentals()
    earnings_before_expiry: bool = False
    score: float = Field(
        description="0–100. CSP/CC: the documented score; ROLL: the same with the roll's APY; "
        "CLOSE: the premium captured %."
    )
    tier: Tier = Field(
        description="A, B or C: the score's band, calibrated on the default criteria (A >= 50, "
        "B >= 30; the rule is in services/screener/src/screener/tiers.py)."
    )
    next_tier: Tier | None = Field(default=None, description="The tier above; null at A.")
    points_to_next_tier: float | None = Field(
        default=None, description="Score points short of the next tier's threshold."
    )
    next_tier_note: str | None = Field(
        default=None,
        description="The gap in words, and which single number would close it: 'A at 50: "
        "+4.2 points; +4.8 % APY (to 16.8 %) or P(OTM) +6.3 points (to 81.3 %) would do it'.",
    )
    reasons: list[str] = Field(default_factory=list, description="The 'why', in words.")
    skipped: list[str] = Field(
        default_factory=list,
        description="Inputs that were missing and the rule or number that was skipped because "
        "of it, in words ('ROE unknown: no fundamentals from IB (tick 258) — rule skipped').",
    )
    pricing_model: str | None = Field(
        default=None,
        description="The model behind IV, delta and the probabilities: 'european' "
        "(Black–Scholes–Merton) or 'american' (Bjerksund–Stensland 2002).",
    )
    quote_ts: datetime | None = None
    market_data_type: str | None = None
    roll_from: OptionContract | None = Field(
        default=None, description="ROLL: the short option bought back."
    )
    captured_pct: float | None = Field(
        default=None, description="ROLL/CLOSE: % of the premium received already captured."
    )
    premium_received: float | None = Field(
        default=None,
        description="ROLL/CLOSE: what the short option held was sold for, USD per share.",
    )
    cost_to_close: float | None = Field(
        default=None,
        description="ROLL/CLOSE: buying back the short option held, USD per share (at "
        "`close_basis`).",
    )
    close_basis: Literal["ask", "mid"] | None = Field(
        default=None, description="ROLL/CLOSE: the quote cost_to_close is priced at."
    )
    remaining_per_day: float | None = Field(
        default=None,
        description="CLOSE: premium still to earn by holding to expiry, USD per share per "
        "calendar day (cost to close / days left).",
    )
    added_days: int | None = Field(
        default=None, description="ROLL: calendar days between the old and the new expiry."
    )


class Rejection(BaseModel):
    symbol: str
    rule: str
    message: str
    contract: str | None = None


class ScanResult(BaseModel):
    scan_id: str
    started: datetime = Field(default_factory=utcnow)
    finished: datetime | None = None
    duration_ms: float | None = None
    criteria: Criteria
    symbols: list[str]
    signals: list[Signal]
    rejections: list[Rejection]
    errors: list[Rejection] = Field(default_factory=list)


class ScanJob(BaseModel):
    """`POST /v1/scans` over 200 symbols answers 202 with this; poll `GET /v1/scans/{id}`."""

    scan_id: str
    status: Literal["running", "done", "failed"]
    symbols_total: int
    symbols_done: int = 0
    last_symbol: str | None = Field(default=None, description="The symbol finished last.")
    error: str | None = None
    result: ScanResult | None = None


class ScanEvent(Event):
    """`signals.scan.<scan_id>`: a finished scan."""

    result: ScanResult


class PriceRequestItem(StrictModel):
    right: Right
    spot: float = Field(gt=0, description="Underlying price, USD.")
    strike: float = Field(gt=0, description="USD.")
    dte: float = Field(gt=0, description="Days to expiry (calendar; t = dte / 365).")
    price: float | None = Field(
        default=None, ge=0, description="Option price, USD per share, to solve IV."
    )
    iv: float | None = Field(
        default=None, gt=0, description="Volatility if known, a fraction (0.25 = 25 %)."
    )
    rate: float = Field(default=0.04, description="Risk-free rate, continuous, a fraction.")
    dividend_yield: float = Field(
        default=0.0,
        ge=0,
        le=100,
        description="Dividend yield, PERCENT (3 = 3 %), continuous: the same unit as "
        "`Fundamentals.dividend_yield` (IB tick 258), so a stock's value passes straight in.",
    )
    american: bool = Field(
        default=False,
        description="Price as an American option (Bjerksund–Stensland 2002) instead of "
        "European (Black–Scholes–Merton).",
    )


class PriceRequest(StrictModel):
    items: list[PriceRequestItem] = Field(min_length=1, max_length=100_000)


class PriceResult(BaseModel):
    """Model numbers for one item, in IB's units.

    Black–Scholes–Merton (European); with `american` the IV, price and delta are
    Bjerksund–Stensland 2002's (American) and gamma, theta, vega, rho stay Black–Scholes's at
    that IV (close for the small early-exercise premium of most contracts).
    """

    iv: float | None = Field(description="Implied (or given) volatility, a fraction.")
    iv_flag: str | None = Field(
        default=None,
        description="Why iv is null: below_intrinsic, above_upper_bound, bad_input, "
        "no_price_or_iv, not_converged.",
    )
    price: float | None = Field(description="Model price, USD per share, at `iv`.")
    delta: float | None = Field(description="Per 1 USD of the underlying, per share.")
    gamma: float | None = Field(description="Change of delta per 1 USD of the underlying.")
    theta: float | None = Field(description="USD per share per calendar day.")
    vega: float | None = Field(description="USD per share per 1 point (1 %) of volatility.")
    pop: float | None = Field(description="P(OTM): probability OTM at expiry, %.")
    rho: float | None = Field(default=None, description="USD per share per 1 point (1 %) of rate.")


class PriceResponse(BaseModel):
    results: list[PriceResult]


_ = (date, Right)
