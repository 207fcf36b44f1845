"""The simulator's contract identities: stocks from the universe file, option chains generated.

Option conIds are arithmetic (underlying, expiry index, strike, right) so that any conId a
client sends back can be decoded without a table of a hundred thousand contracts.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources

from tws_sim.spreads import LIQUIDITY, liquidity_for_cap

STOCK_CONID_BASE = 265_000
OPTION_CONID_BASE = 500_000_000
STOCK_STRIDE = 10_000_000
EXPIRY_STRIDE = 200_000
WEEKLY_WEEKS = 8


@dataclass(frozen=True, slots=True)
class SimContract:
    con_id: int
    symbol: str
    sec_type: str  # STK | OPT
    expiry: str = ""  # YYYYMMDD for options
    strike: float = 0.0
    right: str = ""  # C | P
    multiplier: str = ""
    exchange: str = "SMART"
    primary_exchange: str = ""
    currency: str = "USD"
    local_symbol: str = ""
    trading_class: str = ""

    @property
    def mult(self) -> int:
        return int(self.multiplier) if self.multiplier else 1

    @property
    def is_option(self) -> bool:
        return self.sec_type == "OPT"

    def fields(self) -> list[object]:
        """conId..tradingClass in the order most IB messages carry a contract (with exchange)."""
        return [
            self.con_id,
            self.symbol,
            self.sec_type,
            self.expiry,
            fmt_strike(self.strike),
            self.right,
            self.multiplier,
            self.exchange,
            self.currency,
            self.local_symbol,
            self.trading_class,
        ]

    def describe(self) -> dict:
        return {
            "con_id": self.con_id,
            "symbol": self.symbol,
            "sec_type": self.sec_type,
            "expiry": self.expiry or None,
            "strike": self.strike or None,
            "right": self.right or None,
        }


def fmt_strike(strike: float) -> str:
    return "0" if not strike else (f"{strike:.2f}".rstrip("0").rstrip("."))


@dataclass(slots=True)
class StockInfo:
    idx: int
    symbol: str
    name: str
    exchange: str
    price: float
    volatility: float
    beta: float
    roe_pct: float
    fcf_per_share: float
    fcf_m: float
    market_cap_m: float
    dividend_yield_pct: float
    sector: str
    industry: str
    earnings_in_days: int
    liquidity: str  # option liquidity class, a key of spreads.LIQUIDITY
    contract: SimContract = field(init=False)

    def __post_init__(self) -> None:
        self.contract = SimContract(
            con_id=STOCK_CONID_BASE + self.idx,
            symbol=self.symbol,
            sec_type="STK",
            exchange="SMART",
            primary_exchange=self.exchange,
            local_symbol=self.symbol,
            trading_class="NMS" if self.exchange == "NASDAQ" else self.symbol,
        )


def load_universe(extra: int = 0) -> list[StockInfo]:
    """The universe file's stocks, then `extra` synthetic ones (`--extra-symbols`)."""
    raw = json.loads(resources.files("tws_sim").joinpath("data/universe.json").read_text())
    keys = StockInfo.__dataclass_fields__.keys() - {"idx", "contract"}
    stocks = [StockInfo(idx=i, **{k: row[k] for k in keys}) for i, row in enumerate(raw["stocks"])]
    unknown = {s.liquidity for s in stocks} - LIQUIDITY.keys()
    if unknown:
        raise ValueError(f"universe.json: unknown liquidity class {sorted(unknown)}")
    return stocks + [synthetic_stock(len(stocks) + n, n + 1) for n in range(extra)]


def synthetic_stock(idx: int, number: int) -> StockInfo:
    """`SIM001`, `SIM002`, …: fixed made-up stocks so a benchmark can stream more symbols
    than the curated universe holds (IB users with more market-data lines stream hundreds)."""

    def u(key: str) -> float:  # uniform(0,1), fixed by the stock's number
        h = hashlib.blake2b(f"{number}:{key}".encode(), digest_size=8).digest()
        return int.from_bytes(h, "big") / 2**64

    price = round(20 + 280 * u("price"), 2)
    shares_m = round(100 + 2900 * u("shares"))
    fcf_per_share = round(price * (0.01 + 0.06 * u("fcf")), 2)
    return StockInfo(
        idx=idx,
        symbol=f"SIM{number:03d}",
        name=f"Simulated Stock {number}",
        exchange="NASDAQ" if u("exchange") < 0.5 else "NYSE",
        price=price,
        volatility=round(0.18 + 0.37 * u("vol"), 3),
        beta=round(0.6 + 1.2 * u("beta"), 2),
        roe_pct=round(5 + 35 * u("roe"), 1),
        fcf_per_share=fcf_per_share,
        fcf_m=round(fcf_per_share * shares_m, 1),
        market_cap_m=round(price * shares_m, 1),
        dividend_yield_pct=round(4 * u("yield"), 2),
        sector="Simulated",
        industry="Simulated",
        earnings_in_days=5 + int(85 * u("earnings")),
        liquidity=liquidity_for_cap(price * shares_m),
    )


def third_friday(year: int, month: int) -> date:
    d = date(year, month, 15)
    return d + timedelta(days=(4 - d.weekday()) % 7)


def expiries_from(
    today: date, listed: Callable[[date], date] = lambda d: d
) -> list[tuple[date, bool]]:
    """Weekly Fridays for ~2 months plus monthly third Fridays out to a year: (date, monthly).

    `listed` moves a Friday that is an exchange holiday to the trading day before it (Good
    Friday, Juneteenth, Christmas, New Year), as the real listings do."""
    out: dict[date, bool] = {}
    friday = today + timedelta(days=(4 - today.weekday()) % 7 or 7)
    for w in range(WEEKLY_WEEKS):
        d = friday + timedelta(weeks=w)
        out[listed(d)] = d == third_friday(d.year, d.month)
    y, m = today.year, today.month
    for _ in range(13):
        d = third_friday(y, m)
        if today < d <= today + timedelta(days=366):
            out[listed(d)] = True
        m += 1
        if m > 12:
            y, m = y + 1, 1
    return sorted(out.items())


def strike_step(price: float, monthly: bool, far: bool) -> float:
    if price < 25:
        return 0.5 if not far else 1.0
    if price < 100:
        return 1.0 if (not far or price < 50) else 2.5
    if price < 250:
        return 2.5 if not far else 5.0
    return 5.0 if not far else 10.0


@dataclass(slots=True)
class Expiry:
    idx: int
    day: date
    monthly: bool
    strikes: list[float]

    @property
    def code(self) -> str:
        return self.day.strftime("%Y%m%d")


def build_chain(
    stock: StockInfo, today: date, listed: Callable[[date], date] = lambda d: d
) -> list[Expiry]:
    chain = []
    for i, (day, monthly) in enumerate(expiries_from(today, listed)):
        t = max((day - today).days, 1) / 365.0
        far = t > 0.35
        step = strike_step(stock.price, monthly, far)
        width = min(0.6, max(0.15, 2.5 * stock.volatility * math.sqrt(t) + 0.08))
        lo = math.ceil(stock.price * (1 - width) / step) * step
        hi = math.floor(stock.price * (1 + width) / step) * step
        n = round((hi - lo) / step) + 1
        strikes = [round(lo + j * step, 2) for j in range(n) if lo + j * step > 0]
        chain.append(Expiry(i, day, monthly, strikes))
    return chain


def option_con_id(stock_idx: int, expiry_idx: int, strike: float, right: str) -> int:
    return (
        OPTION_CONID_BASE
        + stock_idx * STOCK_STRIDE
        + expiry_idx * EXPIRY_STRIDE
        + round(strike * 100) * 2
        + (1 if right == "C" else 0)
    )


def decode_option_con_id(con_id: int) -> tuple[int, int, float, str] | None:
    if con_id < OPTION_CONID_BASE:
        return None
    rest = con_id - OPTION_CONID_BASE
    stock_idx, rest = divmod(rest, STOCK_STRIDE)
    expiry_idx, rest = divmod(rest, EXPIRY_STRIDE)
    cents, is_call = divmod(rest, 2)
    return stock_idx, expiry_idx, cents / 100.0, "C" if is_call else "P"


def occ_local_symbol(symbol: str, expiry: str, right: str, strike: float) -> str:
    return f"{symbol:<6}{expiry[2:]}{right}{round(strike * 1000):08d}"


def option_contract(stock: StockInfo, exp: Expiry, strike: float, right: str) -> SimContract:
    return SimContract(
        con_id=option_con_id(stock.idx, exp.idx, strike, right),
        symbol=stock.symbol,
        sec_type="OPT",
        expiry=exp.code,
        strike=strike,
        right=right,
        multiplier="100",
        exchange="SMART",
        local_symbol=occ_local_symbol(stock.symbol, exp.code, right, strike),
        trading_class=stock.symbol,
    )
