"""Quotes, streams, fundamentals and history, all inside IB's limits.

Every market data request goes through one path: wait for a line (LineBudget),
wait for a message slot (RateLimiter), ask IB, give the line back. Snapshot quotes
are cached briefly and concurrent asks for the same contract share one request,
so the web and the screener asking together cost IB one line. Streams (the
symbols the web asked for) hold lines of their own, capped so snapshots always
have some left, and are re-requested after every reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ib_insync import Contract, RequestError, Stock, Ticker
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.market import Bar, History, Quote, StockInfo

from gateway_bridge import metrics
from gateway_bridge.cache import TTLCache
from gateway_bridge.connection import NO_SUBSCRIPTION_CODES, IBSession
from gateway_bridge.earnings import Earnings
from gateway_bridge.events import EventPublisher
from gateway_bridge.fundamentals import (
    FUNDAMENTALS_WAIT,
    DailyFundamentals,
    GatewayTicks,
    Refusals,
    fundamentals_from_ticker,
)
from gateway_bridge.ibvalues import num
from gateway_bridge.limits import LineBudget, RateLimiter
from gateway_bridge.settings import BridgeSettings
from gateway_bridge.tasks import background
from gateway_bridge.tickers import UNSET_TYPE, quote_from_ticker

log = logging.getLogger(__name__)
T = TypeVar("T")


class MarketData:
    def __init__(
        self,
        settings: BridgeSettings,
        session: IBSession,
        limiter: RateLimiter,
        lines: LineBudget,
        publisher: EventPublisher | None = None,
    ) -> None:
        self.settings = settings
        self.session = session
        self.limiter = limiter
        self.lines = lines
        self.publisher = publisher
        self.contracts = TTLCache(settings.secdef_cache_seconds)
        self.snapshots = TTLCache(settings.quote_cache_seconds)
        self.stocks = TTLCache(max(settings.quote_cache_seconds, 5.0))
        self.histories = TTLCache(900.0)
        self.fundamentals = DailyFundamentals()  # ticks 258/456 once per IB trading day
        self.refusals = Refusals()  # IB's "no fundamentals subscription" answers to tick 258
        self.gateway = GatewayTicks(lambda: session.connects)  # does this Gateway know 258?
        self.earnings = Earnings(settings, session, limiter)
        self.snapshot_requests = 0
        self.wanted: list[str] = []
        self.streams: dict[str, Ticker] = {}
        self.stream_errors: dict[str, str] = {}
        self._stream_contracts: dict[str, Contract] = {}
        self._ticker_symbol: dict[int, str] = {}
        self._stream_lines = 0
        # IB's errors for live requests by id() of the Contract object requested with
        # (errorEvent names it): (request id, code, message)
        self._req_errors: dict[int, tuple[int, int, str]] = {}
        self._lock = asyncio.Lock()
        session.on_connected(self.resubscribe)
        session.on_error(self._on_error)
        session.ib.pendingTickersEvent += self._on_tickers

    @property
    def ib(self):  # type: ignore[no-untyped-def]
        return self.session.ib

    async def call(self, awaitable_factory: Callable[[], Awaitable[T]]) -> T:
        """One paced IB request with the bridge's timeout."""
        self.session.require_ready()
        await self.limiter.acquire()
        metrics.IB_REQUESTS.labels("request").inc()
        try:
            return await asyncio.wait_for(awaitable_factory(), self.settings.ib_request_timeout)
        except TimeoutError:
            raise ServiceError(504, "ib_timeout", "IBKR did not answer in time") from None

    # ---- contracts -----------------------------------------------------------------------
    async def stock_details(self, symbol: str) -> Any:
        symbol = symbol.strip().upper()

        async def fetch() -> Any:
            try:
                details = await self.call(
                    lambda: self.ib.reqContractDetailsAsync(Stock(symbol, "SMART", "USD"))
                )
            except RequestError as exc:
                if exc.code == 200:
                    raise unknown_symbol(symbol) from None
                raise
            if not details:
                raise unknown_symbol(symbol)
            return details[0]

        return await self.contracts.get_or_fetch(("STK", symbol), fetch)

    async def stock_contract(self, symbol: str) -> Contract:
        details = await self.stock_details(symbol)
        c = copy.copy(details.contract)
        c.exchange = "SMART"
        return c

    # ---- snapshots -----------------------------------------------------------------------
    async def snapshot(self, contract: Contract, owner: str = "quote") -> Ticker:
        """A snapshot quote (cached briefly, coalesced by contract id)."""
        key = contract.conId or (contract.symbol, contract.secType)
        return await self.snapshots.get_or_fetch(key, lambda: self._snapshot(contract, owner))

    async def _snapshot(self, contract: Contract, owner: str) -> Ticker:
        async with self.lines.line(owner, timeout=self.settings.queue_timeout):
            for attempt in range(2):
                try:
                    return await self._snapshot_once(contract)
                except RequestError as exc:
                    if exc.code in NO_SUBSCRIPTION_CODES and attempt == 0:
                        self.session.use_delayed()
                        continue
                    raise
        raise AssertionError("unreachable")

    async def _snapshot_once(self, contract: Contract) -> Ticker:
        self.session.require_ready()
        await self.limiter.acquire()
        self.session.require_ready()
        ib = self.ib
        c = copy.copy(contract)
        req_id = ib.client.getReqId()
        fut = ib.wrapper.startReq(req_id, c)
        ticker = ib.wrapper.startTicker(req_id, c, "snapshot")
        ticker.marketDataType = UNSET_TYPE
        self.snapshot_requests += 1
        metrics.IB_REQUESTS.labels("snapshot").inc()
        ib.client.reqMktData(req_id, c, "", True, False, [])
        try:
            await asyncio.wait_for(fut, self.settings.ib_request_timeout)
        except TimeoutError:
            ib.wrapper._futures.pop(req_id, None)
            if ib.isConnected():
                ib.client.cancelMktData(req_id)
            raise ServiceError(504, "ib_timeout", "IBKR did not answer a quote in time") from None
        finally:
            ib.wrapper.endTicker(ticker, "snapshot")
            ib.wrapper.reqId2Ticker.pop(req_id, None)
            ib.wrapper.tickers.pop(id(c), None)
        return ticker

    # ---- quotes --------------------------------------------------------------------------
    async def quote(self, symbol: str) -> Quote:
        symbol = symbol.strip().upper()
        ticker = self.streams.get(symbol)
        if ticker is not None and any(
            num(v) is not None for v in (ticker.bid, ticker.ask, ticker.last, ticker.close)
        ):
            return quote_from_ticker(symbol, ticker, self.session.data_type)
        contract = await self.stock_contract(symbol)
        t = await self.snapshot(contract, owner=f"quote:{symbol}")
        return quote_from_ticker(symbol, t, self.session.data_type)

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        return list(await asyncio.gather(*(self.quote(s) for s in symbols)))

    # ---- stock info ----------------------------------------------------------------------
    async def stock(self, symbol: str) -> StockInfo:
        symbol = symbol.strip().upper()
        return await self.stocks.get_or_fetch(("stock", symbol), lambda: self._stock(symbol))

    async def _stock(self, symbol: str) -> StockInfo:
        details = await self.stock_details(symbol)
        contract = await self.stock_contract(symbol)
        known = self.fundamentals.get(symbol, self.session.today())
        self.refusals.forget(contract.conId)
        ticks = "106" if known is not None else self.gateway.stock_ticks()

        def done(t: Ticker) -> bool:
            priced = any(num(v) is not None for v in (t.last, t.bid, t.close))
            if known is not None:
                return priced and num(t.impliedVolatility) is not None
            if t.fundamentalRatios is not None:
                return priced
            # IB refusing tick 258 is an answer too, and so is a Gateway without it (learnt
            # from a 321 that `stream_until` asked again without 258): done once the rest of
            # the line is in.
            rest = t.dividends is not None and num(t.impliedVolatility) is not None
            no_258 = self.refusals.refused(contract.conId) or not self.gateway.has_258
            return priced and rest and no_258

        # The earnings date (Wall Street Horizon) is asked alongside the ticks; it never fails.
        ticker, earnings = await asyncio.gather(
            self.stream_until(
                contract,
                ticks,
                done,
                owner=f"stock:{symbol}",
                wait=FUNDAMENTALS_WAIT,
            ),
            self.earnings.next_for(contract.conId),
        )
        quote = quote_from_ticker(symbol, ticker, self.session.data_type)
        if quote.price is None:
            quote = await self.quote(symbol)
        refused = self.refusals.forget(contract.conId)
        if known is not None:
            fundamentals = known
        else:
            asked_258 = "258" in ticks and self.gateway.has_258
            fundamentals = fundamentals_from_ticker(ticker, refused, asked_258)
            if ticker.fundamentalRatios is not None:
                self.fundamentals.put(symbol, fundamentals)
        if earnings.next_date is not None or fundamentals.next_earnings is None:
            fundamentals.next_earnings = earnings.next_date
            fundamentals.next_earnings_note = earnings.note
        else:
            fundamentals.next_earnings_note = "IB fundamental ratios"
        return StockInfo(
            symbol=symbol,
            name=details.longName or None,
            sector=details.industry or details.category or None,
            primary_exchange=details.contract.primaryExchange or None,
            conid=details.contract.conId or None,
            quote=quote,
            fundamentals=fundamentals,
            implied_volatility=num(ticker.impliedVolatility),
            simulated=self.settings.ib_simulated,
        )

    async def stream_until(
        self,
        contract: Contract,
        generic_ticks: str,
        done: Callable[[Ticker], bool],
        *,
        owner: str,
        wait: float,
    ) -> Ticker:
        """Stream generic ticks (which snapshots cannot carry) until `done`, then cancel.

        Asked again at once, on the same line, after IB's "no live subscription" (delayed data)
        and after a Gateway's refusal of tick 258 (without it: `GatewayTicks`); the caller never
        sees either error."""
        delayed = False
        async with self.lines.line(owner, timeout=self.settings.queue_timeout):
            while True:
                try:
                    return await self._stream_once(contract, generic_ticks, done, wait)
                except RequestError as exc:
                    if exc.code in NO_SUBSCRIPTION_CODES and not delayed:
                        delayed = True
                        self.session.use_delayed()
                        continue
                    fewer = self.gateway.retry_ticks(generic_ticks, exc)
                    if fewer is None:  # only once: `fewer` names no 258
                        raise
                    generic_ticks = fewer

    async def _stream_once(
        self, contract: Contract, generic_ticks: str, done: Callable[[Ticker], bool], wait: float
    ) -> Ticker:
        self.session.require_ready()
        await self.limiter.acquire()
        self.session.require_ready()
        c = copy.copy(contract)
        metrics.IB_REQUESTS.labels("generic_ticks").inc()
        ticker = self.ib.reqMktData(c, generic_ticks, False, False)
        key = id(c)  # c stays alive until the end: errorEvent names it, nothing else can
        self._req_errors.pop(key, None)
        deadline = time.monotonic() + wait
        try:
            while time.monotonic() < deadline and not done(ticker):
                if key in self._req_errors:
                    req_id, code, message = self._req_errors.pop(key)
                    raise RequestError(req_id, code, message)
                if not self.ib.isConnected():
                    self.session.require_ready()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ticker.updateEvent, 0.1)
        finally:
            if self.ib.isConnected() and key not in self._req_errors:
                await self.limiter.acquire()
                # A connection that dropped while we waited for the pacing limiter took the
                # line with it (IB forgot it, ib_insync's reset forgot its tickers): nothing
                # left to cancel.
                if self.ib.isConnected() and self.ib.ticker(c) is ticker:
                    self.ib.cancelMktData(c)
            self._req_errors.pop(key, None)
            self.ib.wrapper.tickers.pop(id(c), None)
        return ticker

    async def implied_vol(self, contract: Contract) -> float | None:
        """The stock's 30-day implied volatility (generic tick 106), cached a minute."""
        key = ("iv", contract.conId)
        cached = self.contracts.get(key)
        if cached is not None:
            return cached if cached > 0 else None
        ticker = await self.stream_until(
            contract,
            "106",
            lambda t: num(t.impliedVolatility) is not None,
            owner=f"iv:{contract.symbol}",
            wait=3.0,
        )
        iv = num(ticker.impliedVolatility)
        found = iv is not None and iv > 0
        # Remembered for a minute (a miss too, so a chain never waits twice for it).
        self.contracts._data[key] = (
            time.monotonic() - self.contracts.ttl + 60,
            iv if found else -1,
        )
        return iv if found else None

    # ---- history -------------------------------------------------------------------------
    async def history(self, symbol: str, days: int, with_iv: bool = False) -> History:
        """Daily bars, cached: IB paces historical requests (60 per 10 minutes, no identical
        request within 15 s) and daily bars change once a day."""
        key = ("history", symbol.upper(), days, with_iv)
        return await self.histories.get_or_fetch(key, lambda: self._history(symbol, days, with_iv))

    async def _history(self, symbol: str, days: int, with_iv: bool) -> History:
        contract = await self.stock_contract(symbol)
        duration = f"{days} D" if days <= 365 else f"{math.ceil(days / 365)} Y"

        async def bars(what: str) -> list[Bar]:
            raw = await self.call(
                lambda: self.ib.reqHistoricalDataAsync(
                    contract, "", duration, "1 day", what, True, 1, False, []
                )
            )
            out = []
            for b in raw or []:
                d = b.date.date() if isinstance(b.date, datetime) else b.date
                out.append(
                    Bar(
                        date=d,
                        open=b.open,
                        high=b.high,
                        low=b.low,
                        close=b.close,
                        volume=max(0.0, float(b.volume or 0)),
                    )
                )
            cutoff = self.session.today() - timedelta(days=days)
            return [b for b in out if b.date >= cutoff] or out

        result = History(symbol=symbol.upper(), bars=await bars("TRADES"))
        if with_iv:
            result.iv_bars = await bars("OPTION_IMPLIED_VOLATILITY")
        return result

    # ---- streaming -----------------------------------------------------------------------
    def subscriptions(self) -> dict[str, Any]:
        return {
            "symbols": list(self.wanted),
            "streaming": sorted(self.streams),
            "errors": dict(self.stream_errors),
            "lines_in_use": self.lines.in_use,
            "lines_capacity": self.lines.capacity,
            "stream_lines": self._stream_lines,
            "stream_lines_max": min(self.settings.stream_lines_max, self.lines.capacity),
        }

    async def set_subscriptions(self, symbols: list[str]) -> dict[str, Any]:
        wanted = list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
        async with self._lock:
            self.wanted = wanted
            for symbol in [s for s in self.streams if s not in wanted]:
                self._stop_stream(symbol)
            for symbol in [s for s in list(self.stream_errors) if s not in wanted]:
                self.stream_errors.pop(symbol, None)
            if self.session.ready:
                for symbol in wanted:
                    if symbol not in self.streams:
                        await self._start_stream(symbol)
        return self.subscriptions()

    async def _start_stream(self, symbol: str, *, hold_line: bool = False) -> None:
        try:
            contract = await self.stock_contract(symbol)
        except ServiceError as exc:
            self.stream_errors[symbol] = exc.message
            return
        if not hold_line:
            cap = min(self.settings.stream_lines_max, self.lines.capacity)
            if self._stream_lines >= cap or not self.lines.try_acquire():
                self.stream_errors[symbol] = "no market data line free for streaming"
                return
            self._stream_lines += 1
        await self.limiter.acquire()
        metrics.IB_REQUESTS.labels("stream").inc()
        ticker = self.ib.reqMktData(contract, "", False, False)
        ticker.marketDataType = UNSET_TYPE
        self.streams[symbol] = ticker
        self._stream_contracts[symbol] = contract
        self._ticker_symbol[id(ticker)] = symbol
        self.stream_errors.pop(symbol, None)

    def _stop_stream(self, symbol: str) -> None:
        ticker = self.streams.pop(symbol, None)
        contract = self._stream_contracts.pop(symbol, None)
        if ticker is not None:
            self._ticker_symbol.pop(id(ticker), None)
            if contract is not None and self.ib.isConnected():
                try:
                    self.ib.cancelMktData(contract)
                except Exception:
                    log.debug("cancel %s failed", symbol, exc_info=True)
            self._stream_lines -= 1
            self.lines.release()

    async def resubscribe(self) -> None:
        """After a (re)connect: IB forgot every request, ask again keeping our lines."""
        self.snapshots.clear()
        async with self._lock:
            held = list(self.streams)
            self.streams.clear()
            self._ticker_symbol.clear()
            self._stream_contracts.clear()
            for symbol in self.wanted:
                await self._start_stream(symbol, hold_line=symbol in held)
            for symbol in held:
                if symbol not in self.streams:
                    self._stream_lines -= 1
                    self.lines.release()
        if self.wanted:
            log.info("re-subscribed %d streams", len(self.streams))

    def _on_error(self, req_id: int, code: int, message: str, contract: Contract | None) -> None:
        """IB's error for a request: `contract` is the object it was requested with, if any."""
        if req_id > 0 and contract is not None and code < 2100 and code != 10167:
            self._req_errors[id(contract)] = (req_id, code, message)
            if len(self._req_errors) > 1000:
                self._req_errors.clear()
        self.refusals.note(code, message, contract)
        if code in NO_SUBSCRIPTION_CODES:
            symbol = next((s for s, c in self._stream_contracts.items() if c is contract), None)
            changed = self.session.use_delayed()
            if symbol is not None and (changed or code != 10167):
                background(self._restream(symbol))

    async def _restream(self, symbol: str) -> None:
        async with self._lock:
            if symbol not in self.streams:
                return
            contract = self._stream_contracts[symbol]
            old = self.streams[symbol]
            self._ticker_symbol.pop(id(old), None)
            if self.ib.isConnected():
                self.ib.cancelMktData(contract)
                await self.limiter.acquire()
                contract = copy.copy(contract)
                ticker = self.ib.reqMktData(contract, "", False, False)
                ticker.marketDataType = UNSET_TYPE
                self.streams[symbol] = ticker
                self._stream_contracts[symbol] = contract
                self._ticker_symbol[id(ticker)] = symbol

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        if self.publisher is None:
            return
        for ticker in tickers:
            symbol = self._ticker_symbol.get(id(ticker))
            if symbol is not None:
                self.publisher.quote(quote_from_ticker(symbol, ticker, self.session.data_type))


def unknown_symbol(symbol: str) -> ServiceError:
    return ServiceError(404, "unknown_symbol", f"IBKR knows no US stock {symbol!r}", field="symbol")
