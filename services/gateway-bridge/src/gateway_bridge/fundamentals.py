"""Fundamentals from IB's generic ticks 258 (fundamental ratios) and 456 (dividends), and
their cache per IB trading day.

The figures move with the day's close, not by the second, and IB meters fundamentals requests;
so the bridge reads them once per symbol per IB trading day (`DailyFundamentals`) and a stock
asked again that day streams only its price and implied volatility (tick 106).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ib_insync import Ticker
from wheeldesk.schemas.market import Fundamentals

from gateway_bridge.ibvalues import num


def _ratio(ratios: Any, *names: str) -> float | None:
    for name in names:
        value = num(getattr(ratios, name, None))
        if value is not None:
            return value
    return None


def _ib_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 8:
        try:
            return datetime.strptime(value[:8], "%Y%m%d").date()
        except ValueError:
            return None
    return None


def fundamentals_from_ticker(ticker: Ticker) -> Fundamentals:
    """IB tick 258 (fundamental ratios; MKTCAP in USD millions) and tick 456 (dividends).

    Real IB puts no earnings date in tick 258 (the NEXTEARNINGS names are read in case a feed
    does); `MarketData._stock` fills it from Wall Street Horizon (`earnings.py`).
    """
    r = ticker.fundamentalRatios
    f = Fundamentals()
    if r is not None:
        mktcap = _ratio(r, "MKTCAP")
        fcf = _ratio(r, "TTMFCF", "FCF", "FREECASHFLOW")
        shares = _ratio(r, "SHARESOUT", "QSHARESOUT")
        fcf_share = _ratio(r, "TTMFCFSHR", "FCFSHR")
        if fcf is None and fcf_share is not None and shares is not None:
            fcf = fcf_share * shares  # both in millions → millions
        f = Fundamentals(
            beta=_ratio(r, "BETA"),
            roe=_ratio(r, "TTMROEPCT", "ROEPCT"),
            fcf_per_share=fcf_share,
            free_cash_flow=fcf * 1e6 if fcf is not None else None,
            market_cap=mktcap * 1e6 if mktcap is not None else None,
            dividend_yield=_ratio(r, "YIELD", "DIVYIELD"),
            pe_ratio=_ratio(r, "PEEXCLXOR", "APENORM", "PE"),
            next_earnings=_ib_date(getattr(r, "NEXTEARNINGS", None))
            or _ib_date(getattr(r, "NEXTEARNINGSDATE", None)),
        )
    if ticker.dividends is not None and ticker.dividends.nextDate:
        f.ex_dividend = ticker.dividends.nextDate
    return f


class DailyFundamentals:
    """Per symbol, the figures read on one IB trading day; a new day forgets them all."""

    def __init__(self) -> None:
        self.day: date | None = None
        self._by_symbol: dict[str, Fundamentals] = {}

    def get(self, symbol: str, today: date) -> Fundamentals | None:
        if self.day != today:
            self.day = today
            self._by_symbol.clear()
        got = self._by_symbol.get(symbol)
        return got.model_copy() if got is not None else None

    def put(self, symbol: str, fundamentals: Fundamentals) -> None:
        self._by_symbol[symbol] = fundamentals.model_copy()
