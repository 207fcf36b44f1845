"""Hand-built market data for the screener's pure-function tests: one pinned moment (no
clock), quotes, fundamentals and short positions spelled the way the cases read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from screener import signals
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.market import Fundamentals, OptionContract, OptionQuote, Quote
from wheeldesk.schemas.screener import Criteria, SymbolData

# Wed 2026-06-17 10:30 ET (EDT, UTC-4): the harness's pinned simulated start.
NOW = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)
TODAY = date(2026, 6, 17)


def _ctx(**criteria) -> signals.Context:  # type: ignore[no-untyped-def]
    return signals.Context(criteria=Criteria(**criteria), now=NOW, rate=0.0)


def _q(symbol: str, days: int, strike: float, right: str, bid: float, ask: float, **kw):  # type: ignore[no-untyped-def]
    return OptionQuote(
        contract=OptionContract(
            symbol=symbol, expiry=TODAY + timedelta(days=days), strike=strike, right=right
        ),
        bid=bid,
        ask=ask,
        open_interest=kw.pop("oi", 2000),
        volume=100,
        **kw,
    )


def _data(symbol: str, price: float, **fund) -> SymbolData:  # type: ignore[no-untyped-def]
    base = {"beta": 0.6, "roe": 40.0, "free_cash_flow": 9e9, "market_cap": 260e9}
    return SymbolData(
        symbol=symbol,
        quote=Quote(symbol=symbol, bid=price - 0.01, ask=price + 0.01, last=price),
        fundamentals=Fundamentals(**(base | fund)),
    )


def _short(symbol: str, days: int, strike: float, right: str, sold_at: float) -> Position:
    return Position(
        account_id="DU1",
        symbol=symbol,
        sec_type="OPT",
        quantity=-1,
        avg_cost=sold_at * 100,  # IB: per contract
        expiry=TODAY + timedelta(days=days),
        strike=strike,
        right=right,
        multiplier=100,
    )
