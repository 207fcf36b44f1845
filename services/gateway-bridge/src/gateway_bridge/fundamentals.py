"""Fundamentals from IB's generic ticks 258 (fundamental ratios) and 456 (dividends), and
their cache per IB trading day.

The figures move with the day's close, not by the second, and IB meters fundamentals requests;
so the bridge reads them once per symbol per IB trading day (`DailyFundamentals`) and a stock
asked again that day streams only its price and implied volatility (tick 106).

Figures that did not come say why (`Fundamentals.status`): IB refused tick 258 with an error
code (`Refusals` keeps it from IB's error stream: no subscription, buy it), sent nothing
within `FUNDAMENTALS_WAIT` (latency, pacing, a data farm down: ask again later), or the
Gateway no longer knows tick 258 at all (`GatewayTicks`: TWS API 10.47 de-supported it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from ib_insync import Contract, RequestError, Ticker
from wheeldesk.schemas.market import Fundamentals, FundamentalsStatus

from gateway_bridge.ibvalues import num

log = logging.getLogger(__name__)

# IB's answer to generic tick 258 on an account without the fundamentals subscription
# ("Fundamentals data is not allowed."); the line streams everything else.
FUNDAMENTALS_REFUSED_CODES = frozenset({10358})
FUNDAMENTALS_WAIT = 5.0  # seconds a stock request waits for its price and tick 258

# A stock's first request of the IB trading day: IV (106), fundamental ratios (258), dividends.
STOCK_TICKS = "106,258,456"
# A Gateway of TWS API 10.47 or later (2026, "De-Supported Fundamentals Data") refuses a tick list
# naming 258 whole, price and the other ticks included: 321 "Error validating request.-'bO' :
# cause - Incorrect generic tick list of 258.  Legal ones for (STK) are: ..." (the legal list
# that follows may itself mention 258 on other versions: only the named list counts).
UNKNOWN_TICKS = re.compile(r"Incorrect generic tick list of ([\d,\s]+)")
UNKNOWN_TICK_CODE = 321
NOT_SUPPORTED_REASON = "this IB Gateway version no longer provides fundamental ratios (tick 258)"


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


def fundamentals_from_ticker(
    ticker: Ticker, refused: tuple[int, str] | None, asked_258: bool = True
) -> Fundamentals:
    """IB tick 258 (fundamental ratios; MKTCAP in USD millions) and tick 456 (dividends).

    Without ratios the status says why: not `asked_258` means the Gateway no longer knows the
    tick (`GatewayTicks`); `refused` is IB's (code, message) for tick 258, and none means
    nothing came within `FUNDAMENTALS_WAIT`. Real IB puts no earnings date in tick 258 (the
    NEXTEARNINGS names are read in case a feed does); `MarketData._stock` fills it from Wall
    Street Horizon (`earnings.py`).
    """
    r = ticker.fundamentalRatios
    if not asked_258:
        f = Fundamentals(
            status=FundamentalsStatus.NOT_SUPPORTED,
            ib_code=UNKNOWN_TICK_CODE,
            reason=NOT_SUPPORTED_REASON,
        )
    elif refused is not None:
        f = Fundamentals(
            status=FundamentalsStatus.NOT_SUBSCRIBED, ib_code=refused[0], reason=refused[1]
        )
    else:
        f = Fundamentals(
            status=FundamentalsStatus.NO_ANSWER,
            reason=f"IB sent no tick 258 within {FUNDAMENTALS_WAIT:g} s",
        )
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
            status=FundamentalsStatus.OK,
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


class Refusals:
    """IB's refusals of tick 258 by conId, from its error stream to the stock request waiting.

    Keyed by conId: the stock requests of one symbol are coalesced (one in flight), and a
    request forgets what an earlier one left (`forget`) before it asks.
    """

    def __init__(self) -> None:
        self._by_conid: dict[int, tuple[int, str]] = {}

    def note(self, code: int, message: str, contract: Contract | None) -> None:
        if code in FUNDAMENTALS_REFUSED_CODES and contract is not None and contract.conId:
            if len(self._by_conid) > 1000:
                self._by_conid.clear()
            self._by_conid[contract.conId] = (code, message)

    def refused(self, conid: int) -> bool:
        return conid in self._by_conid

    def forget(self, conid: int) -> tuple[int, str] | None:
        """IB's (code, message) for the conId's tick 258 since the last `forget`, or None."""
        return self._by_conid.pop(conid, None)


def _tick_ids(ticks: str) -> list[str]:
    return [t.strip() for t in ticks.split(",") if t.strip()]


def refuses_258(code: int, message: str) -> bool:
    """IB's 321 refusing a tick list because it names 258 (not one merely listing it as legal)."""
    named = UNKNOWN_TICKS.search(message) if code == UNKNOWN_TICK_CODE else None
    return named is not None and "258" in _tick_ids(named.group(1))


class GatewayTicks:
    """Whether the connected Gateway still knows generic tick 258, learnt from its refusal.

    Kept for the connection it was learnt on (`connects`: the session's connection count): a
    reconnect may reach another Gateway version, so 258 is asked again after it.
    """

    def __init__(self, connects: Callable[[], int]) -> None:
        self._connects = connects
        self._missing_on: int | None = None  # the connection whose Gateway refused 258

    @property
    def has_258(self) -> bool:
        return self._missing_on != self._connects()

    def stock_ticks(self) -> str:
        """`STOCK_TICKS`, without 258 on a Gateway known not to serve it."""
        return STOCK_TICKS if self.has_258 else self.without_258(STOCK_TICKS)

    @staticmethod
    def without_258(ticks: str) -> str:
        return ",".join(t for t in _tick_ids(ticks) if t != "258")

    def retry_ticks(self, ticks: str, exc: RequestError) -> str | None:
        """The tick list to ask again at once when IB refused `ticks` for naming 258 (and then
        remember that this Gateway lacks it); None for any other error."""
        if not refuses_258(exc.code, exc.message) or "258" not in _tick_ids(ticks):
            return None
        if self.has_258:
            self._missing_on = self._connects()
            log.warning(
                "IB Gateway refused generic tick 258 (IB error %d): %s; stock requests go on "
                "without fundamental ratios until the next connection",
                exc.code,
                NOT_SUPPORTED_REASON,
            )
        return self.without_258(ticks)
