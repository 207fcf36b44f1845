"""What an IB `Ticker` says, as the bridge's schemas: its market data type and a stock quote."""

from __future__ import annotations

from datetime import UTC, datetime

from ib_insync import Ticker
from wheeldesk.schemas.common import DataType
from wheeldesk.schemas.market import Quote

from gateway_bridge.ibvalues import num

UNSET_TYPE = 0  # marks a ticker whose data type IB has not announced yet


def ticker_data_type(ticker: Ticker, fallback: DataType) -> DataType:
    code = getattr(ticker, "marketDataType", UNSET_TYPE)
    if code in (1, 2, 3, 4):
        return DataType.from_ib(code)
    return fallback


def quote_from_ticker(symbol: str, ticker: Ticker, fallback: DataType) -> Quote:
    ts = ticker.time if isinstance(ticker.time, datetime) else datetime.now(UTC)
    return Quote(
        symbol=symbol,
        bid=num(ticker.bid),
        ask=num(ticker.ask),
        last=num(ticker.last),
        bid_size=num(ticker.bidSize),
        ask_size=num(ticker.askSize),
        volume=num(ticker.volume),
        close=num(ticker.close),
        market_data_type=ticker_data_type(ticker, fallback),
        ts=ts,
    )
