"""IB's market scanners: reqScannerParameters, reqScannerSubscription, cancelScannerSubscription.

Wheeldesk discovers wheel candidates beyond a user's watchlist with IB's own scanners (one
subscription per idea instead of a chain per symbol). This module answers them the way IB
Gateway does, message for message as ib_insync's decoder reads them:

- reqScannerParameters (24) → scannerParameters (19): an XML document (`scanner_xml.py`) in IB's
  `ScanParameterResponse` shape (InstrumentList, LocationTree, ScanTypeList, FilterList with
  RangeFilter/AbstractField codes) naming what this simulator supports;
- reqScannerSubscription (22) → scannerData (20) rows (rank, contract, marketName,
  tradingClass, distance, benchmark, projection, legsStr), then the end marker; IB fills no
  distance/benchmark/projection for these stock scans, so neither does the simulator;
- IB's limits: at most 10 simultaneous API scanner subscriptions (the 11th gets error 322)
  and at most 50 rows per scan; a subscription lives until cancelled or disconnected.

The universe is the simulator's market (the curated stocks) plus deterministic synthetic
names (sector, market cap, volumes, IV and IV history, all from `--seed`) listed into the
market on the first scan so every row can be quoted, charted and traded afterwards.
"""

from __future__ import annotations

import hashlib
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tws_sim.contracts import StockInfo, build_chain
from tws_sim.market import ET as NY
from tws_sim.market import StockState
from tws_sim.protocol import encode
from tws_sim.spreads import liquidity_for_cap

if TYPE_CHECKING:
    from tws_sim.market import Market
    from tws_sim.session import Session

SCANNER_PARAMETERS = 19  # incoming message ids as ib_insync's decoder numbers them
SCANNER_DATA = 20
MAX_SUBSCRIPTIONS = 10
MAX_ROWS = 50
UNIVERSE_SIZE = 300  # curated stocks + synthetic names listed on the first scan
UNSET_DOUBLE = 1.7976931348623157e308

TOO_MANY = (
    322,
    "Error processing request.-'bd' : cause - "
    f"Only {MAX_SUBSCRIPTIONS} simultaneous API scanner subscriptions are allowed.",
)
DUPLICATE = (322, "Error processing request.-'bd' : cause - Duplicate ticker ID for API scanner")
INVALID = 162  # IB answers a scan it cannot run with a "Historical Market Data Service" error
INVALID_PREFIX = "Historical Market Data Service error message:"

INSTRUMENTS = {"STK": "US Stocks"}
LOCATIONS = {
    "STK.US": "US Stocks",
    "STK.US.MAJOR": "Listed/NASDAQ",
    "STK.NASDAQ": "NASDAQ",
    "STK.NYSE": "NYSE",
}


@dataclass(frozen=True)
class Metrics:
    """What the scanner knows of one stock right now."""

    stock: StockInfo
    price: float
    change_pct: float
    market_cap_m: float
    volume: float  # average daily shares
    avg_opt_volume: float  # average daily option contracts
    opt_volume: float  # today's option contracts
    iv_pct: float  # 30-day at-the-money implied volatility, percent
    hv_pct: float  # 30-day historical volatility, percent
    iv_change_pct: float  # today's change of the IV, percent of yesterday's


@dataclass(frozen=True)
class ScanType:
    name: str
    key: Callable[[Metrics], float]
    descending: bool = True
    column: str = ""


SCAN_TYPES: dict[str, ScanType] = {
    "HIGH_OPT_IMP_VOLAT": ScanType("Highest Option Implied Vol", lambda x: x.iv_pct, True, "IV"),
    "LOW_OPT_IMP_VOLAT": ScanType("Lowest Option Implied Vol", lambda x: x.iv_pct, False, "IV"),
    "HIGH_OPT_IMP_VOLAT_OVER_HIST": ScanType(
        "Highest Opt Imp Vol Over Historical", lambda x: x.iv_pct / x.hv_pct, True, "IV/HV"
    ),
    "LOW_OPT_IMP_VOLAT_OVER_HIST": ScanType(
        "Lowest Opt Imp Vol Over Historical", lambda x: x.iv_pct / x.hv_pct, False, "IV/HV"
    ),
    "TOP_OPT_IMP_VOL_GAIN": ScanType(
        "Top Option Imp Vol % Gainers", lambda x: x.iv_change_pct, True, "IV Change"
    ),
    "OPT_VOLUME_MOST_ACTIVE": ScanType(
        "Most Active by Opt Volume", lambda x: x.opt_volume, True, "Opt Volume"
    ),
    "MOST_ACTIVE": ScanType("Most Active", lambda x: x.volume, True, "Volume"),
    "TOP_PERC_GAIN": ScanType("Top % Gainers", lambda x: x.change_pct, True, "Change %"),
    "TOP_PERC_LOSE": ScanType("Top % Losers", lambda x: x.change_pct, False, "Change %"),
}


@dataclass(frozen=True)
class Filter:
    """One filter code (a TagValue tag) and the metric it bounds; above = lower bound."""

    code: str
    display: str
    metric: Callable[[Metrics], float]
    above: bool
    group: str
    category: str


FILTERS: dict[str, Filter] = {
    f.code: f
    for f in (
        Filter("priceAbove", "Price above", lambda x: x.price, True, "PRICE", "Price"),
        Filter("priceBelow", "Price below", lambda x: x.price, False, "PRICE", "Price"),
        Filter(
            "marketCapAbove1e6",
            "Market cap above ($M)",
            lambda x: x.market_cap_m,
            True,
            "MKTCAP",
            "Fundamentals",
        ),
        Filter(
            "marketCapBelow1e6",
            "Market cap below ($M)",
            lambda x: x.market_cap_m,
            False,
            "MKTCAP",
            "Fundamentals",
        ),
        Filter("volumeAbove", "Volume above", lambda x: x.volume, True, "VOLUME", "Volume"),
        Filter(
            "avgOptVolumeAbove",
            "Avg option volume above",
            lambda x: x.avg_opt_volume,
            True,
            "AVGOPTVOLUME",
            "Options",
        ),
        Filter(
            "optVolumeAbove",
            "Option volume above",
            lambda x: x.opt_volume,
            True,
            "OPTVOLUME",
            "Options",
        ),
        Filter(
            "impVolatAbove",
            "Opt imp vol above (%)",
            lambda x: x.iv_pct,
            True,
            "IMPVOLAT",
            "Options",
        ),
        Filter(
            "impVolatBelow",
            "Opt imp vol below (%)",
            lambda x: x.iv_pct,
            False,
            "IMPVOLAT",
            "Options",
        ),
    )
}

# ScannerSubscription fields (message 22 positions) that are the same bounds as a filter.
# The market-cap fields are in USD millions, like the `marketCap…1e6` filters.
SUBSCRIPTION_FIELDS = {
    6: "priceAbove",
    7: "priceBelow",
    8: "volumeAbove",
    9: "marketCapAbove1e6",
    10: "marketCapBelow1e6",
    20: "avgOptVolumeAbove",
}

SECTORS: list[tuple[str, list[str]]] = [
    ("Technology", ["Software", "Semiconductors", "IT Services", "Hardware"]),
    ("Healthcare", ["Biotechnology", "Medical Devices", "Pharmaceuticals"]),
    ("Financials", ["Banks", "Insurance", "Asset Management"]),
    ("Consumer Discretionary", ["Retail", "Restaurants", "Autos", "Leisure"]),
    ("Consumer Staples", ["Food Products", "Household Products"]),
    ("Energy", ["Oil & Gas", "Renewables"]),
    ("Industrials", ["Aerospace", "Machinery", "Transportation"]),
    ("Materials", ["Chemicals", "Metals & Mining"]),
    ("Communication Services", ["Media", "Telecom", "Interactive Media"]),
    ("Utilities", ["Electric Utilities"]),
    ("Real Estate", ["REITs"]),
]


# --- the universe ----------------------------------------------------------------------------


def _u(seed: int, *parts: object) -> float:
    """A uniform(0,1) fixed by the seed and its key: independent of call order."""
    h = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def _ticker(seed: int, n: int, taken: set[str]) -> str:
    """A made-up ticker for synthetic name `n`: a 'Z' plus three letters, unique in `taken`."""
    k = 0
    while True:
        letters = "".join(chr(65 + int(26 * _u(seed, "ticker", n, k, i))) for i in range(3))
        sym = "Z" + letters
        if sym not in taken:
            return sym
        k += 1


def synthetic_stock(seed: int, idx: int, n: int, taken: set[str]) -> StockInfo:
    """Synthetic name `n` of the scanner universe: log-uniform market cap from 300M to 400B,
    a price from 3 to 400, a volatility that smaller companies run higher."""

    def u(key: str) -> float:
        return _u(seed, "scanner-stock", n, key)

    cap_m = math.exp(math.log(300) + (math.log(400_000) - math.log(300)) * u("cap"))
    price = round(math.exp(math.log(3) + (math.log(400) - math.log(3)) * u("price")), 2)
    small = 1.0 - math.log(cap_m / 300) / math.log(400_000 / 300)  # 1 = smallest
    volatility = round(0.16 + 0.35 * small + 0.45 * u("vol") ** 2, 3)
    sector, industries = SECTORS[int(len(SECTORS) * u("sector"))]
    industry = industries[int(len(industries) * u("industry"))]
    shares_m = cap_m / price
    fcf_per_share = round(price * (0.005 + 0.06 * u("fcf")), 2)
    symbol = _ticker(seed, n, taken)
    return StockInfo(
        idx=idx,
        symbol=symbol,
        name=f"{symbol.title()} {industry} Corp (simulated)",
        exchange="NASDAQ" if u("exchange") < 0.55 else "NYSE",
        price=price,
        volatility=volatility,
        beta=round(0.5 + 1.5 * u("beta"), 2),
        roe_pct=round(-10 + 45 * u("roe"), 1),
        fcf_per_share=fcf_per_share,
        fcf_m=round(fcf_per_share * shares_m, 1),
        market_cap_m=round(cap_m, 1),
        dividend_yield_pct=round(max(0.0, 5 * u("yield") - 1.5), 2),
        sector=sector,
        industry=industry,
        earnings_in_days=3 + int(88 * u("earnings")),
        liquidity=liquidity_for_cap(cap_m * 1e6),
    )


def ensure_universe(market: Market) -> None:
    """List the synthetic names into the market once (chains, prices), so they quote and trade.

    Their indexes follow the market's own stocks, so their option conIds decode like any
    other; the same seed lists the same names with the same conIds."""
    if getattr(market, "scanner_listed", False):
        return
    market.scanner_listed = True  # type: ignore[attr-defined]
    taken = set(market.by_symbol)
    today = market.start_day
    for n in range(max(0, UNIVERSE_SIZE - len(market.stocks))):
        s = synthetic_stock(market.seed, len(market.stocks), n, taken)
        taken.add(s.symbol)
        market.stocks.append(s)
        market.by_symbol[s.symbol] = s
        market.chains[s.symbol] = build_chain(s, today, market.calendar.listed_expiry)
        market.state[s.symbol] = StockState(s, s.price, s.price, s.price, s.price, s.price, 0)


def metrics(market: Market, s: StockInfo) -> Metrics:
    """The scanner's view of one stock now: price from the market, the rest from the seed
    (volumes scale with market cap and turnover; option volume with option liquidity)."""
    seed = market.seed
    day = market.now().astimezone(NY).date().isoformat()
    st = market.state[s.symbol]
    price = st.price
    change = 100.0 * (price / st.close - 1.0) if st.close else 0.0
    turnover = 0.002 + 0.012 * _u(seed, "turnover", s.symbol)
    volume = s.market_cap_m * 1e6 * turnover / max(s.price, 0.5)
    avg_opt = volume / 100 * (0.05 + 0.45 * _u(seed, "optshare", s.symbol))
    opt_today = avg_opt * (0.5 + 1.2 * _u(seed, "optday", s.symbol, day))
    iv = 100.0 * market.atm_iv(s.symbol)
    hv = iv / (0.7 + 0.8 * _u(seed, "ivhv", s.symbol))
    iv_change = 30.0 * (_u(seed, "ivchg", s.symbol, day) - 0.4)
    return Metrics(
        stock=s,
        price=round(price, 2),
        change_pct=round(change, 2),
        market_cap_m=round(s.market_cap_m * price / s.price, 1),
        volume=round(volume),
        avg_opt_volume=round(avg_opt),
        opt_volume=round(opt_today),
        iv_pct=round(iv, 2),
        hv_pct=round(hv, 2),
        iv_change_pct=round(iv_change, 2),
    )


class ScanError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _number(tag: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ScanError(
            INVALID, f"{INVALID_PREFIX}Invalid value {raw!r} for filter {tag}"
        ) from None
    if math.isnan(value):
        raise ScanError(INVALID, f"{INVALID_PREFIX}Invalid value {raw!r} for filter {tag}")
    return value


def parse_tag_values(raw: str) -> list[tuple[str, str]]:
    """ib_insync sends a TagValue list as `tag=value;tag=value;`."""
    out = []
    for part in raw.split(";"):
        if not part.strip():
            continue
        tag, sep, value = part.partition("=")
        if not sep:
            raise ScanError(INVALID, f"{INVALID_PREFIX}Invalid filter {part!r}")
        out.append((tag.strip(), value.strip()))
    return out


@dataclass
class ScanRequest:
    rows: int
    instrument: str
    location: str
    scan_code: str
    bounds: dict[str, float] = field(default_factory=dict)


def parse_subscription(f: list[str]) -> ScanRequest:
    """Message 22 as ib_insync's client.reqScannerSubscription writes it (no version field)."""
    rows = int(f[2]) if f[2] else -1
    req = ScanRequest(
        rows=MAX_ROWS if rows <= 0 else min(rows, MAX_ROWS),
        instrument=f[3],
        location=f[4],
        scan_code=f[5],
    )
    if req.instrument not in INSTRUMENTS:
        raise ScanError(INVALID, f"{INVALID_PREFIX}Invalid instrument: {req.instrument!r}")
    if req.location not in LOCATIONS:
        raise ScanError(INVALID, f"{INVALID_PREFIX}Invalid location code: {req.location!r}")
    if req.scan_code not in SCAN_TYPES:
        raise ScanError(INVALID, f"{INVALID_PREFIX}Invalid scan code: {req.scan_code!r}")
    for pos, code in SUBSCRIPTION_FIELDS.items():
        raw = f[pos] if pos < len(f) else ""
        if raw and float(raw) != UNSET_DOUBLE and raw not in ("2147483647", "-1"):
            req.bounds[code] = _number(code, raw)
    filters = f[23] if len(f) > 23 else ""
    for tag, value in parse_tag_values(filters):
        if tag not in FILTERS:
            raise ScanError(INVALID, f"{INVALID_PREFIX}Invalid filter: {tag}")
        if value:
            req.bounds[tag] = _number(tag, value)
    return req


def run_scan(market: Market, req: ScanRequest) -> list[Metrics]:
    """The ranked rows: every stock inside the bounds, best first by the scan code's metric."""
    ensure_universe(market)
    scan = SCAN_TYPES[req.scan_code]
    loc = req.location
    found = []
    for s in market.stocks:
        if loc == "STK.NASDAQ" and s.exchange != "NASDAQ":
            continue
        if loc == "STK.NYSE" and s.exchange != "NYSE":
            continue
        x = metrics(market, s)
        ok = True
        for code, bound in req.bounds.items():
            flt = FILTERS[code]
            value = flt.metric(x)
            if (flt.above and value <= bound) or (not flt.above and value >= bound):
                ok = False
                break
        if ok:
            found.append(x)
    found.sort(key=lambda x: (-scan.key(x) if scan.descending else scan.key(x), x.stock.symbol))
    return found[: req.rows]


# --- messages --------------------------------------------------------------------------------


def scanner_data(req_id: int, rows: list[Metrics]) -> bytes:
    """scannerData (20) as decoder.scannerData reads it, end marker included (rank from 0)."""
    fields: list[object] = [SCANNER_DATA, 3, req_id, len(rows)]
    for rank, x in enumerate(rows):
        c = x.stock.contract
        fields += [rank, c.con_id, c.symbol, "STK", "", "0", "", "SMART", "USD", c.local_symbol]
        fields += [c.trading_class, c.trading_class, "", "", "", ""]
    return encode(*fields)


# --- handlers (registered in session.HANDLERS) -----------------------------------------------

_subs: weakref.WeakKeyDictionary[Session, set[int]] = weakref.WeakKeyDictionary()


def active_subscriptions(session: Session) -> int:
    """IB counts scanner subscriptions per login: every live connection's add up."""
    return sum(
        len(ids) for s, ids in list(_subs.items()) if not s.closed and s.engine is session.engine
    )


def req_scanner_parameters(session: Session, f: list[str]) -> None:
    from tws_sim.scanner_xml import parameters_xml  # it reads this module's catalogue

    session.send(encode(SCANNER_PARAMETERS, 1, parameters_xml()))


def req_scanner_subscription(session: Session, f: list[str]) -> None:
    req_id = int(f[1])
    mine = _subs.setdefault(session, set())
    if req_id in mine:
        session.error(req_id, *DUPLICATE)
        return
    if active_subscriptions(session) >= MAX_SUBSCRIPTIONS:
        session.error(req_id, *TOO_MANY)
        return
    try:
        req = parse_subscription(f)
    except ScanError as exc:
        session.error(req_id, exc.code, exc.message)
        return
    mine.add(req_id)
    session.send(scanner_data(req_id, run_scan(session.engine.market, req)))


def cancel_scanner_subscription(session: Session, f: list[str]) -> None:
    _subs.setdefault(session, set()).discard(int(f[2]))
