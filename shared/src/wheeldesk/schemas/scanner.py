"""IB market scanners through the bridge: `GET /v1/scanner/parameters`, `POST /v1/scanner/run`.

Discovery beyond the watchlist costs IB one scanner subscription per idea; the web shows the
scan codes and filters IB itself lists (never typed by the user) and runs the wheel screen on
the ranked symbols that come back.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from wheeldesk.schemas.common import StrictModel

MAX_ROWS = 50  # IB returns at most 50 rows per scan
MAX_SUBSCRIPTIONS = 10  # IB allows at most 10 simultaneous API scanner subscriptions


class ScanCode(BaseModel):
    code: str = Field(description="IB's scan code, e.g. HIGH_OPT_IMP_VOLAT.")
    name: str = Field(description="IB's display name.")
    instruments: list[str] = Field(default_factory=list)


class ScanFilter(BaseModel):
    code: str = Field(description="IB's filter code (a TagValue tag), e.g. priceAbove.")
    name: str
    category: str = ""
    group: str = Field("", description="IB's RangeFilter id, e.g. PRICE.")


class ScanLocation(BaseModel):
    code: str = Field(description="e.g. STK.US.MAJOR")
    name: str
    instruments: list[str] = Field(default_factory=list)


class ScannerParameters(BaseModel):
    """IB's scanner parameters XML, parsed to what a form needs; cached per trading day."""

    instruments: list[str]
    locations: list[ScanLocation]
    scan_codes: list[ScanCode]
    filters: list[ScanFilter]
    trading_day: date = Field(description="IB's trading day the parameters were fetched on.")


class MarketScanRequest(StrictModel):
    scan_code: str = Field(min_length=1, max_length=64)
    instrument: str = Field("STK", min_length=1, max_length=32)
    location: str = Field("STK.US.MAJOR", min_length=1, max_length=64)
    filters: dict[str, float] = Field(
        default_factory=dict, description="IB filter code → value, e.g. {'priceAbove': 20}."
    )
    rows: int = Field(20, ge=1, le=MAX_ROWS)
    details: bool = Field(
        True,
        description="Add name, sector, price, market cap and earnings per row (costs IB "
        "one market-data request per symbol, cached and shared with the wheel screen).",
    )


class MarketScanRow(BaseModel):
    rank: int = Field(description="IB's rank, 0 = best.")
    symbol: str
    conid: int
    sec_type: str = "STK"
    exchange: str = ""
    currency: str = "USD"
    market_name: str = ""
    trading_class: str = ""
    distance: str = Field("", description="As IB returned it (empty for most stock scans).")
    benchmark: str = ""
    projection: str = ""
    legs: str = ""
    name: str | None = None
    sector: str | None = None
    price: float | None = None
    market_cap: float | None = Field(None, description="Market capitalisation, USD.")
    implied_volatility: float | None = Field(
        None, description="The stock's 30-day implied volatility (IB tick 106), a fraction."
    )
    next_earnings: date | None = None


class MarketScanResult(BaseModel):
    scan_code: str
    location: str
    filters: dict[str, float]
    rows: list[MarketScanRow]
    as_of: datetime = Field(description="IB's clock when the scan answered.")
    simulated: bool = False
