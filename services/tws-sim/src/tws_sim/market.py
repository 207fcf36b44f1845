"""The simulated market: a clock, random-walk stock prices and Black–Scholes option quotes.

Everything random comes from numpy generators seeded with --seed, so a given seed always
produces the same universe of prices, chains, open interest and history. Option bid/ask
widths come from `spreads` (share of the premium, per-symbol liquidity class, tick rules).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from wheeldesk.markettime import NY as ET

from tws_sim import spreads
from tws_sim.contracts import (
    Expiry,
    SimContract,
    StockInfo,
    build_chain,
    decode_option_con_id,
    load_universe,
    option_contract,
)
from tws_sim.pricing import Greeks, bs, skewed_vol
from tws_sim.xnys import Calendar, demo_start

RATE = 0.045
YEAR_SECONDS = 365.0 * 86400.0


class SimClock:
    """Simulated time: wall clock at start, running `speed`× faster, plus manual advances."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        self.speed = speed
        self.start_sim = start or datetime.now(UTC)
        self.start_mono = time.monotonic()
        self.offset = 0.0

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self.start_mono) * self.speed + self.offset
        return self.start_sim + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def begin(self) -> None:
        """Simulated time starts moving now (the server is up): the moments spent building
        the universe do not count, so `--start` is the time the first client sees."""
        self.start_mono = time.monotonic()


def parse_start(text: str, now: datetime | None = None) -> datetime:
    """`--start` / TWS_SIM_START: ISO 8601 (a moment without an offset is New York time), or
    `demo`: now on a trading day, else the most recent trading day at 10:30 ET."""
    if text.strip().lower() == "demo":
        return demo_start(now or datetime.now(UTC))
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"start {text!r} is not an ISO 8601 moment (e.g. 2026-06-17T10:30:00-04:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ET)


def expiry_moment(day: date) -> datetime:
    """16:00 ET of `day`; `Market.expiry_moment` knows the 13:00 early closes."""
    return datetime(day.year, day.month, day.day, 16, 0, tzinfo=ET)


@dataclass(slots=True)
class StockState:
    info: StockInfo
    price: float
    open: float
    high: float
    low: float
    close: float
    volume: int
    bid_size: int = 300
    ask_size: int = 300
    last_size: int = 100


@dataclass(slots=True)
class OptionQuote:
    contract: SimContract
    under: float
    t: float
    iv: float
    model: Greeks
    bid: float
    ask: float
    last: float
    bid_size: int
    ask_size: int
    volume: int
    open_interest: int
    pv_dividend: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2


@dataclass(slots=True)
class StockQuote:
    bid: float
    ask: float
    last: float
    bid_size: int
    ask_size: int
    last_size: int
    volume: int
    open: float
    high: float
    low: float
    close: float


def _stable_u(*parts: object) -> float:
    """A uniform(0,1) number fixed by its key (seeded; independent of call order)."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


class Market:
    def __init__(
        self,
        seed: int = 7,
        speed: float = 1.0,
        extra_symbols: int = 0,
        start: datetime | None = None,
    ) -> None:
        self.seed = seed
        self.clock = SimClock(speed, start)
        self.rng = np.random.default_rng(seed)
        self.rate = RATE
        self.stocks = load_universe(extra_symbols)
        self.by_symbol = {s.symbol: s for s in self.stocks}
        today = self.clock.now().astimezone(ET).date()
        self.start_day = today
        # History reaches three years back; the clock may run two years on (--speed).
        self.calendar = Calendar(today - timedelta(days=3 * 365 + 10), today + timedelta(days=800))
        self.chains: dict[str, list[Expiry]] = {
            s.symbol: build_chain(s, today, self.calendar.listed_expiry) for s in self.stocks
        }
        self.state: dict[str, StockState] = {
            s.symbol: StockState(s, s.price, s.price, s.price, s.price, s.price, 0)
            for s in self.stocks
        }
        self.last_step = self.clock.now()
        # The trading day whose open/high/low the stock states hold.
        self.session_day: date | None = today if self.calendar.is_session(today) else None
        self._expiry_at: dict[str, datetime] = {}
        self.calendar_tz = ET
        self.farm_up = True
        self._hist: dict[tuple[str, str], list[tuple]] = {}
        self._static_cache: dict[int, tuple[float, float, float, bool]] = {}

    # --- clock and prices -------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def is_open(self, moment: datetime | None = None) -> bool:
        """Regular trading hours of XNYS (09:30–16:00 ET, 13:00 on early closes)."""
        return self.calendar.is_open(moment or self.clock.now())

    def last_close(self) -> datetime:
        """The most recent regular-session close (frozen data is as of this moment)."""
        return self.calendar.last_close(self.clock.now())

    def expiry_moment(self, day: date) -> datetime:
        """When an expiry on `day` stops trading: that session's close (13:00 on early closes)."""
        return self.calendar.session_close(day)

    def _roll_session(self, day: date) -> None:
        """A new trading day: the last price is the close, the day opens where it is."""
        self.session_day = day
        for st in self.state.values():
            st.close = st.price
            st.open = st.high = st.low = st.price
            st.volume = 0

    def step(self) -> None:
        """Move every price by a random-walk step for the simulated time elapsed.

        Prices move only in regular hours (the step that crosses an open carries the overnight
        gap); outside them stocks keep their last price, the session's last trade."""
        now = self.clock.now()
        if not self.calendar.is_open(now):
            return  # last_step stays at the last move: the open's first step is the gap
        day = now.astimezone(ET).date()
        if day != self.session_day:
            self._roll_session(day)
        dt = max((now - self.last_step).total_seconds(), 0.0) / YEAR_SECONDS
        self.last_step = now
        # A floor of one simulated second per step keeps ticks visibly alive at --speed 1.
        dt = max(dt, 1.0 / YEAR_SECONDS)
        z = self.rng.standard_normal(len(self.stocks))
        sizes = self.rng.integers(1, 40, size=(len(self.stocks), 3))
        for i, s in enumerate(self.stocks):
            st = self.state[s.symbol]
            vol = s.volatility
            st.price = max(
                0.5, st.price * math.exp(vol * math.sqrt(dt) * z[i] - 0.5 * vol * vol * dt)
            )
            st.high = max(st.high, st.price)
            st.low = min(st.low, st.price)
            st.bid_size, st.ask_size, st.last_size = (int(x) * 100 for x in sizes[i])
            st.volume += st.last_size

    def set_price(self, symbol: str, price: float) -> None:
        st = self.state[symbol]
        st.price = price
        st.high = max(st.high, price)
        st.low = min(st.low, price)

    def spot(self, symbol: str) -> float:
        return self.state[symbol].price

    def stock_quote(self, symbol: str) -> StockQuote:
        st = self.state[symbol]
        p = st.price
        spread = max(0.01, round(p * 0.0002, 2))
        bid = math.floor((p - spread / 2) * 100 + 1e-9) / 100
        ask = round(bid + spread, 2)
        return StockQuote(
            bid,
            ask,
            round(p, 2),
            st.bid_size,
            st.ask_size,
            st.last_size,
            st.volume // 100,
            round(st.open, 2),
            round(st.high, 2),
            round(st.low, 2),
            round(st.close, 2),
        )

    # --- options ------------------------------------------------------------------------

    def expiries(self, symbol: str) -> list[Expiry]:
        """Listed (unexpired) expiries of a symbol at the current simulated time."""
        now = self.clock.now()
        return [e for e in self.chains[symbol] if self.expiry_moment(e.day) > now]

    def expiry_at(self, expiry: str) -> datetime:
        got = self._expiry_at.get(expiry)
        if got is None:
            got = self.expiry_moment(datetime.strptime(expiry, "%Y%m%d").date())
            self._expiry_at[expiry] = got
        return got

    def years_to(self, expiry: str, at: datetime | None = None) -> float:
        now = at or self.clock.now()
        return max((self.expiry_at(expiry) - now).total_seconds(), 0.0) / YEAR_SECONDS

    def option_by_con_id(self, con_id: int) -> SimContract | None:
        dec = decode_option_con_id(con_id)
        if dec is None:
            return None
        sidx, eidx, strike, right = dec
        if sidx >= len(self.stocks):
            return None
        stock = self.stocks[sidx]
        chain = self.chains[stock.symbol]
        if eidx >= len(chain) or strike not in chain[eidx].strikes:
            return None
        return option_contract(stock, chain[eidx], strike, right)

    def contract_by_con_id(self, con_id: int) -> SimContract | None:
        for s in self.stocks:
            if s.contract.con_id == con_id:
                return s.contract
        return self.option_by_con_id(con_id)

    def dividend_yield(self, symbol: str) -> float:
        return self.by_symbol[symbol].dividend_yield_pct / 100.0

    def option_quote(
        self, c: SimContract, under: float | None = None, at: datetime | None = None
    ) -> OptionQuote:
        """The quote now, or as of moment `at` (frozen data: as of the last close)."""
        stock = self.by_symbol[c.symbol]
        s = self.spot(c.symbol) if under is None else under
        t = self.years_to(c.expiry, at)
        q = self.dividend_yield(c.symbol)
        iv = skewed_vol(stock.volatility, s, c.strike, t)
        g = bs(c.right, s, c.strike, t, self.rate, q, iv)
        mid = g.price
        u, u_vol, u_spread, monthly = self._statics(c)
        pct = spreads.width_pct(
            stock.liquidity,
            spreads.otm_sd(c.right, c.strike, s, iv, t),
            t,
            monthly=monthly,
            jitter_u=u_spread,
        )
        bid, ask, tick = spreads.bid_ask(mid, pct, stock.liquidity)
        x = abs(math.log(c.strike / s)) / (iv * math.sqrt(max(t, 1 / 365)))
        base = 200 + stock.market_cap_m / 400
        oi = int(base * (2.5 if monthly else 1.0) * math.exp(-0.5 * x * x / 2.0) * (0.4 + u))
        vol = int(oi * (0.03 + 0.25 * u_vol))
        traded = min(ask, max(bid, mid + (u - 0.5) * (ask - bid)))
        last = round(round(traded / tick) * tick, 2)
        sizes = 1 + int(50 * u)
        pv_div = s * (1 - math.exp(-q * t))
        return OptionQuote(c, s, t, iv, g, bid, ask, last, sizes, sizes + 3, vol, oi, pv_div)

    def _statics(self, c: SimContract) -> tuple[float, float, float, bool]:
        """Per-contract constants (seeded draws for OI, volume and spread; monthly flag)."""
        got = self._static_cache.get(c.con_id)
        if got is None:
            exp_day = datetime.strptime(c.expiry, "%Y%m%d").date()
            monthly = any(e.monthly for e in self.chains[c.symbol] if e.day == exp_day)
            got = (
                _stable_u(self.seed, c.con_id),
                _stable_u(self.seed, c.con_id, "v"),
                _stable_u(self.seed, c.con_id, "s"),
                monthly,
            )
            self._static_cache[c.con_id] = got
        return got

    def atm_iv(self, symbol: str) -> float:
        s = self.spot(symbol)
        return skewed_vol(self.by_symbol[symbol].volatility, s, s, 30 / 365)

    # --- history ------------------------------------------------------------------------

    def daily_bars(self, symbol: str, what: str, days: int) -> list[tuple]:
        """Trading-day bars ending yesterday: (date, open, high, low, close, volume, wap, count)."""
        key = (symbol, what)
        if key not in self._hist:
            self._hist[key] = self._make_history(symbol, what)
        bars = self._hist[key]
        today = self.clock.now().astimezone(ET).date()
        first = today - timedelta(days=days)
        return [b for b in bars if first <= b[0] < today]

    def _make_history(self, symbol: str, what: str) -> list[tuple]:
        stock = self.by_symbol[symbol]
        idx = stock.idx
        rng = np.random.default_rng([self.seed, idx, len(what)])
        # Trading days only: no bars on weekends or NYSE holidays (about 250 a year).
        days = self.calendar.sessions_between(
            self.start_day - timedelta(days=3 * 365), self.start_day + timedelta(days=399)
        )
        n = len(days)
        start_pos = sum(1 for d in days if d < self.start_day)
        if what in ("OPTION_IMPLIED_VOLATILITY", "HISTORICAL_VOLATILITY"):
            level = stock.volatility * (1.05 if what.startswith("OPTION") else 0.92)
            x = np.zeros(n)
            shocks = rng.standard_normal(n) * 0.06
            for i in range(1, n):
                x[i] = x[i - 1] * 0.94 + shocks[i]
            ivs = level * np.exp(x - x[start_pos - 1] if start_pos else x)
            out = []
            for i, d in enumerate(days):
                v = float(ivs[i])
                hi = v * (1 + abs(shocks[i]) / 3)
                lo = v * (1 - abs(shocks[i]) / 3)
                out.append(
                    (d, round(v, 6), round(hi, 6), round(lo, 6), round(v, 6), 0, round(v, 6), 0)
                )
            return out
        vol = stock.volatility
        z = rng.standard_normal(n)
        rets = vol * np.sqrt(1 / 252) * z - 0.5 * vol * vol / 252
        logp = np.cumsum(rets)
        anchor = logp[start_pos - 1] if start_pos else 0.0
        closes = stock.price * np.exp(logp - anchor)
        base_vol = int(stock.market_cap_m * 40 / max(stock.price, 1))
        out = []
        prev = float(closes[0])
        for i, d in enumerate(days):
            c = float(closes[i])
            o = prev * math.exp(float(rng.normal(0, vol / 40)))
            hi = max(o, c) * (1 + abs(float(rng.normal(0, vol / 30))))
            lo = min(o, c) * (1 - abs(float(rng.normal(0, vol / 30))))
            v = int(base_vol * (0.6 + float(rng.random())))
            wap = (o + hi + lo + c) / 4
            out.append(
                (
                    d,
                    round(o, 2),
                    round(hi, 2),
                    round(lo, 2),
                    round(c, 2),
                    v,
                    round(wap, 4),
                    v // 120,
                )
            )
            prev = c
        return out
