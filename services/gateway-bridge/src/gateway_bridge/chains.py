"""Option chains without flooding IB: pick strikes first, quote only those.

A liquid name lists 40 expiries × 200 strikes; quoting them all would take
16,000 market data requests (minutes at IB's 50 msg/s, and far beyond 100 lines).
A wheel trader asks for a delta band (say |Δ| 0.10–0.40) inside a DTE window, so
the bridge estimates each strike's delta from the underlying price and its
implied volatility (Black–Scholes, used only for this pre-selection; the numbers
returned are IB's), keeps the strikes inside the band plus one on each side to
absorb the volatility skew, and asks IB for quotes of those alone.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from ib_insync import Contract, Option, RequestError, Ticker
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.common import DataType
from wheeldesk.schemas.market import Chain, ChainExpirations, OptionContract, OptionQuote

from gateway_bridge import metrics
from gateway_bridge.cache import TTLCache
from gateway_bridge.ibvalues import num
from gateway_bridge.marketdata import MarketData
from gateway_bridge.tickers import ticker_data_type

log = logging.getLogger(__name__)

DEFAULT_IV = 0.35  # when IB has no implied volatility for the stock
DELTA_MARGIN = 0.02
OI_TTL = 3600.0  # IB updates open interest once a day
# An expiry IB answers "no security definition" (200) for: nothing of that right trades there
# (it expired since the option parameters were cached, or that class never listed it).
NOT_LISTED: Mapping[float, Contract] = MappingProxyType({})


def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def bs_delta(spot: float, strike: float, iv: float, years: float, right: str) -> float:
    """Black–Scholes delta (no rates, no dividends): good enough to choose strikes."""
    if spot <= 0 or strike <= 0:
        return 0.0
    vol_t = max(iv, 1e-4) * math.sqrt(max(years, 1e-6))
    d1 = (math.log(spot / strike) + 0.5 * vol_t * vol_t) / vol_t
    call = norm_cdf(d1)
    return call if right == "C" else call - 1.0


def preselect_strikes(
    strikes: list[float],
    spot: float,
    iv: float,
    dte: int,
    right: str,
    delta_min: float,
    delta_max: float,
    *,
    pad: int = 1,
    max_strikes: int | None = None,
) -> list[float]:
    """Strikes whose model |delta| lies in [delta_min, delta_max], plus `pad` either side."""
    ordered = sorted(set(strikes))
    if not ordered or spot <= 0:
        return []
    years = max(dte, 0.5) / 365.0
    deltas = [abs(bs_delta(spot, k, iv, years, right)) for k in ordered]
    lo, hi = delta_min - DELTA_MARGIN, delta_max + DELTA_MARGIN
    inside = [i for i, d in enumerate(deltas) if lo <= d <= hi]
    if not inside:
        # The band falls between two listed strikes: take the nearest one.
        target = (delta_min + delta_max) / 2
        inside = [min(range(len(deltas)), key=lambda i: abs(deltas[i] - target))]
    first, last = max(0, min(inside) - pad), min(len(ordered) - 1, max(inside) + pad)
    chosen = list(range(first, last + 1))
    if max_strikes is not None and len(chosen) > max_strikes:
        centre = (delta_min + delta_max) / 2
        chosen = sorted(sorted(chosen, key=lambda i: abs(deltas[i] - centre))[:max_strikes])
    return [ordered[i] for i in chosen]


def nearest_strikes(strikes: list[float], spot: float, count: int | None) -> list[float]:
    ordered = sorted(set(strikes))
    if count is None or count >= len(ordered):
        return ordered
    return sorted(sorted(ordered, key=lambda k: abs(k - spot))[:count])


def parse_expiry(value: str) -> date:
    return datetime.strptime(value[:8], "%Y%m%d").date()


def greeks_of(ticker: Ticker) -> Any:
    for g in (ticker.modelGreeks, ticker.lastGreeks, ticker.bidGreeks, ticker.askGreeks):
        if g is not None and num(g.delta) is not None:
            return g
    return ticker.modelGreeks


@dataclass
class SecDef:
    expirations: list[date]
    strikes: list[float]
    trading_class: str
    multiplier: int
    exchange: str


@dataclass
class Wanted:
    """What one chain request picks strikes by: a delta band when one was asked (`banded`;
    estimated from the spot and the stock's IV when the spot is known), else the `strikes`
    nearest the spot."""

    today: date
    spot: float | None
    banded: bool
    dmin: float
    dmax: float
    strikes: int | None
    iv: float | None = None


class Chains:
    def __init__(self, md: MarketData) -> None:
        self.md = md
        self.secdefs = TTLCache(md.settings.secdef_cache_seconds)
        self.option_contracts = TTLCache(md.settings.secdef_cache_seconds)
        self.open_interest = TTLCache(OI_TTL)
        self.quotes_requested = 0

    @property
    def ib(self):  # type: ignore[no-untyped-def]
        return self.md.ib

    async def secdef(self, stock: Contract) -> SecDef:
        async def fetch() -> SecDef:
            params = await self.md.call(
                lambda: self.ib.reqSecDefOptParamsAsync(stock.symbol, "", "STK", stock.conId)
            )
            if not params:
                raise ServiceError(
                    404, "no_options", f"IBKR lists no options on {stock.symbol}", field="symbol"
                )
            best = next((p for p in params if p.exchange == "SMART"), params[0])
            same_class = [p for p in params if p.tradingClass == best.tradingClass]
            expirations = sorted({parse_expiry(e) for p in same_class for e in p.expirations})
            strikes = sorted({float(k) for p in same_class for k in p.strikes})
            return SecDef(
                expirations=expirations,
                strikes=strikes,
                trading_class=best.tradingClass or stock.symbol,
                multiplier=int(float(best.multiplier or 100)),
                exchange="SMART",
            )

        return await self.secdefs.get_or_fetch(("secdef", stock.conId), fetch)

    async def expiry_contracts(
        self, symbol: str, sd: SecDef, expiry: date, right: str
    ) -> Mapping[float, Contract]:
        """Every listed strike of one expiry and right with its conid: one IB request, cached.
        `NOT_LISTED` when IB knows no such contract."""

        async def fetch() -> Mapping[float, Contract]:
            listed = await self._listed(symbol, sd, expiry, 0.0, right)
            if listed is None:
                return NOT_LISTED
            return {float(c.strike): c for c in listed}

        key = ("opt", symbol, expiry, right, sd.trading_class)
        return await self.option_contracts.get_or_fetch(key, fetch)

    async def _listed(
        self, symbol: str, sd: SecDef, expiry: date, strike: float, right: str
    ) -> list[Contract] | None:
        """The options of the secdef's trading class IB lists at `strike` (0.0: every strike),
        dated by day and routed SMART; None when IB knows no such contract (error 200)."""
        probe = Option(
            symbol,
            expiry.strftime("%Y%m%d"),
            strike,
            right,
            "SMART",
            currency="USD",
            tradingClass=sd.trading_class,
        )
        try:
            details = await self.md.call(lambda: self.ib.reqContractDetailsAsync(probe))
        except RequestError as exc:
            if exc.code == 200:
                return None
            raise
        out = []
        for d in details or []:
            c = d.contract
            c.lastTradeDateOrContractMonth = (c.lastTradeDateOrContractMonth or "").split(" ")[0]
            c.exchange = "SMART"
            out.append(c)
        return out

    async def option_ticker(self, contract: Contract, owner: str) -> Ticker:
        """A snapshot, unless open interest is unknown: snapshots cannot carry it (tick 101
        needs a stream), so the first look at a contract streams until OI arrives, then
        cancels; OI changes once a day and is remembered for OI_TTL."""
        oi = self.open_interest.get(contract.conId)
        if oi is not None:
            ticker = await self.md.snapshot(copy.copy(contract), owner=owner)
            field = "putOpenInterest" if contract.right == "P" else "callOpenInterest"
            if num(getattr(ticker, field)) is None:
                setattr(ticker, field, oi)
            return ticker
        oi_field = "putOpenInterest" if contract.right == "P" else "callOpenInterest"

        def complete(t: Ticker) -> bool:
            return (
                num(getattr(t, oi_field)) is not None
                and (num(t.bid) is not None or num(t.ask) is not None)
                and greeks_of(t) is not None
            )

        async def fetch() -> Ticker:
            t = await self.md.stream_until(contract, "101", complete, owner=owner, wait=3.0)
            value = num(getattr(t, oi_field))
            if value is not None:
                self.open_interest.put(contract.conId, value)
            return t

        key = ("oi", contract.conId)
        return await self.md.snapshots.get_or_fetch(key, fetch)

    async def qualify(
        self, symbol: str, sd: SecDef, expiry: date, strike: float, right: str
    ) -> Contract | None:
        async def fetch() -> Contract | None:
            listed = await self._listed(symbol, sd, expiry, strike, right)
            return listed[0] if listed else None

        key = ("optk", symbol, expiry, strike, right, sd.trading_class)
        return await self.option_contracts.get_or_fetch(key, fetch)

    async def expirations(self, symbol: str) -> ChainExpirations:
        """The listed expiries from IB's (cached) option parameters: no quote is requested."""
        symbol = symbol.strip().upper()
        stock = await self.md.stock_contract(symbol)
        sd = await self.secdef(stock)
        await self.md.session.refresh_clock()
        today = self.md.session.today()
        return ChainExpirations(
            symbol=symbol, expirations=[e for e in sd.expirations if e >= today]
        )

    async def chain(
        self,
        symbol: str,
        *,
        right: str | None = None,
        dte_min: int = 0,
        dte_max: int = 60,
        delta_min: float | None = None,
        delta_max: float | None = None,
        strikes: int | None = None,
    ) -> Chain:
        """The quotes of `symbol`'s options in the DTE window: the strikes in the delta band
        (or the `strikes` nearest the spot), picked before anything is quoted."""
        symbol = symbol.strip().upper()
        stock = await self.md.stock_contract(symbol)
        sd = await self.secdef(stock)
        await self.md.session.refresh_clock()
        today = self.md.session.today()
        expiries = [e for e in sd.expirations if dte_min <= (e - today).days <= dte_max]
        underlying = await self.md.quote(symbol)
        wanted = Wanted(
            today=today,
            spot=underlying.price,
            banded=delta_min is not None or delta_max is not None,
            dmin=delta_min if delta_min is not None else 0.0,
            dmax=delta_max if delta_max is not None else 1.0,
            strikes=strikes,
        )
        if wanted.banded and wanted.spot:
            wanted.iv = await self.md.implied_vol(stock)
        rights = [right] if right else ["P", "C"]
        groups = await asyncio.gather(
            *(self.select(symbol, sd, e, r, wanted) for e in expiries for r in rights)
        )
        contracts = [c for group in groups for c in group]
        settings = self.md.settings
        if len(contracts) > settings.chain_max_contracts:
            # An unfiltered chain (every strike of every expiry) took 16 s and every line.
            raise ServiceError(
                422,
                "chain_too_large",
                f"dte_max: {len(contracts)} option quotes in {len(expiries)} expiries, at most"
                f" {settings.chain_max_contracts}: narrow dte_min/dte_max, or give strikes or"
                " delta_min/delta_max",
                field="dte_max",
            )
        options = await self.quote_all(symbol, contracts, wanted)
        types = {q.market_data_type for q in options} | {underlying.market_data_type}
        return Chain(
            symbol=symbol,
            right=right,  # type: ignore[arg-type]
            underlying=underlying,
            expirations=expiries,
            options=options,
            quotes_requested=len(contracts),
            market_data_type=worst_type(types),
        )

    async def select(
        self, symbol: str, sd: SecDef, expiry: date, right: str, wanted: Wanted
    ) -> list[Contract]:
        """The contracts of one expiry and right worth quoting (none if IB lists none)."""
        listed = await self.expiry_contracts(symbol, sd, expiry, right)
        if listed is NOT_LISTED:
            # Qualifying each strike of the union would cost one more "no security
            # definition" per strike.
            log.info("%s %s %s not listed at IB: skipped", symbol, expiry, right)
            return []
        available = list(listed) or sd.strikes
        if wanted.banded and wanted.spot:
            chosen = preselect_strikes(
                available,
                wanted.spot,
                wanted.iv or DEFAULT_IV,
                (expiry - wanted.today).days,
                right,
                wanted.dmin,
                wanted.dmax,
                pad=1 if wanted.iv else 3,
                max_strikes=wanted.strikes,
            )
        else:
            chosen = nearest_strikes(available, wanted.spot or 0.0, wanted.strikes)
        if listed:
            return [listed[k] for k in chosen]
        # IB did not list the expiry's strikes at once: qualify only the chosen ones.
        found = await asyncio.gather(*(self.qualify(symbol, sd, expiry, k, right) for k in chosen))
        return [c for c in found if c is not None]

    async def quote_all(
        self, symbol: str, contracts: list[Contract], wanted: Wanted
    ) -> list[OptionQuote]:
        """Quote each contract (at most CHAIN_LINES_MAX lines at once), keep those with data
        (and inside the delta band when one was asked), sorted by expiry, right and strike.
        Some failing is logged; all failing raises the first failure."""
        self.quotes_requested += len(contracts)
        metrics.OPTION_QUOTES_REQUESTED.inc(len(contracts))
        owner = f"chain:{symbol}"
        share = asyncio.Semaphore(self.md.settings.chain_lines_max)

        async def quoted(contract: Contract) -> Ticker:
            async with share:  # one chain never holds more than CHAIN_LINES_MAX lines
                return await self.option_ticker(contract, owner)

        results = await asyncio.gather(*(quoted(c) for c in contracts), return_exceptions=True)
        options: list[OptionQuote] = []
        failures: list[BaseException] = []
        for contract, result in zip(contracts, results, strict=True):
            if isinstance(result, BaseException):
                failures.append(result)
                continue
            if not has_data(result):
                failures.append(TimeoutError(f"no data for {contract.localSymbol or contract}"))
                continue
            quote = option_quote(symbol, contract, result, wanted.spot, self.md.session.data_type)
            if wanted.banded and not in_band(
                quote, wanted.dmin, wanted.dmax, wanted.spot, wanted.iv, wanted.today
            ):
                continue
            options.append(quote)
        if failures and not options:
            first = failures[0]
            if isinstance(first, Exception):
                raise first
        if failures:
            log.warning(
                "%d of %d option quotes failed for %s", len(failures), len(contracts), symbol
            )
        metrics.OPTION_QUOTES_RETURNED.inc(len(options))
        options.sort(key=lambda q: (q.contract.expiry, q.contract.right, q.contract.strike))
        return options


def has_data(ticker: Ticker) -> bool:
    return any(num(v) is not None for v in (ticker.bid, ticker.ask, ticker.last)) or (
        greeks_of(ticker) is not None
    )


def worst_type(types: set[DataType]) -> DataType:
    for t in (DataType.DELAYED_FROZEN, DataType.DELAYED, DataType.FROZEN, DataType.LIVE):
        if t in types:
            return t
    return DataType.LIVE


def option_quote(
    symbol: str, contract: Contract, ticker: Ticker, spot: float | None, fallback: DataType
) -> OptionQuote:
    g = greeks_of(ticker)
    right = contract.right
    oi = num(ticker.putOpenInterest if right == "P" else ticker.callOpenInterest)
    if oi is None:
        oi = num(ticker.callOpenInterest) or num(ticker.putOpenInterest)
    return OptionQuote(
        contract=OptionContract(
            symbol=symbol,
            expiry=parse_expiry(contract.lastTradeDateOrContractMonth),
            strike=float(contract.strike),
            right=right,
            multiplier=int(float(contract.multiplier or 100)),
            conid=contract.conId or None,
            trading_class=contract.tradingClass or None,
        ),
        bid=num(ticker.bid),
        ask=num(ticker.ask),
        last=num(ticker.last),
        volume=num(ticker.volume),
        open_interest=oi,
        iv=num(g.impliedVol) if g else None,
        delta=num(g.delta) if g else None,
        gamma=num(g.gamma) if g else None,
        theta=num(g.theta) if g else None,
        vega=num(g.vega) if g else None,
        underlying_price=(num(g.undPrice) if g else None) or spot,
        market_data_type=ticker_data_type(ticker, fallback),
        ts=ticker.time or datetime.now().astimezone(),
    )


def in_band(
    q: OptionQuote, dmin: float, dmax: float, spot: float | None, iv: float | None, today: date
) -> bool:
    delta = q.delta
    if delta is None and spot:
        dte = (q.contract.expiry - today).days
        delta = bs_delta(
            spot, q.contract.strike, q.iv or iv or DEFAULT_IV, max(dte, 0.5) / 365, q.contract.right
        )
    if delta is None:
        return True
    return dmin <= abs(delta) <= dmax
