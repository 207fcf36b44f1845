"""What the stock and chain pages show, fetched through the bridge with the database as fallback."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from wheeldesk.clients import ServiceCallError
from wheeldesk.schemas.market import Chain, fundamentals_missing

from wheeldesk_web.core import clients
from wheeldesk_web.core.clock import broker_today
from wheeldesk_web.market.account import dashboard_data
from wheeldesk_web.market.models import Option, Stock
from wheeldesk_web.market.services import store_chain, store_history, upsert_stock
from wheeldesk_web.signals.models import Signal
from wheeldesk_web.signals.services import latest_scan

HISTORY_MAX_AGE = timedelta(hours=6)
CHAIN_CACHE_SECONDS = 20
EXPIRATIONS_CACHE_SECONDS = 600
CHAIN_STRIKES = 12  # strikes a side nearest the money


class UnknownSymbol(Exception):
    pass


@dataclass
class StockPage:
    stock: Stock | None
    error: str | None = None
    marks: list[dict[str, Any]] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    # the bridge's word on the date: its source, or why it is unknown (e.g. no WSH subscription)
    earnings_note: str | None = None
    # why IB sent no fundamental ratios (not subscribed, no answer…), in the screener's words;
    # None when it sent them, or when the bridge was not asked (stored data shown)
    fundamentals_missing: str | None = None


def load_stock(symbol: str, user: Any) -> StockPage:
    page = StockPage(stock=Stock.objects.filter(symbol=symbol).first())
    try:
        with clients.bridge(timeout=8.0) as bridge:
            info = bridge.stock(symbol)
            page.stock = upsert_stock(info)
            page.earnings_note = info.fundamentals.next_earnings_note
            page.fundamentals_missing = fundamentals_missing(info.fundamentals)
            stale = page.stock.history_updated is None or (
                timezone.now() - page.stock.history_updated > HISTORY_MAX_AGE
            )
            if stale:
                store_history(symbol, bridge.history(symbol, days=365))
                page.stock.refresh_from_db()
    except ServiceCallError as exc:
        if exc.status in (400, 404) and page.stock is None:
            raise UnknownSymbol(symbol) from exc
        page.error = (
            "IBKR is not reachable: showing the last stored data"
            if exc.unavailable
            else exc.message
        )
    if page.stock is None:
        return page
    data = dashboard_data()
    for row in data.option_rows:
        p = row.position
        if p.symbol == symbol and p.strike is not None:
            page.marks.append(
                {"strike": p.strike, "label": f"position {row.label}", "kind": "position"}
            )
    scan = latest_scan(user)
    if scan is not None:
        page.signals = list(scan.signals.filter(symbol=symbol).order_by("-score")[:10])
        for s in page.signals:
            page.marks.append(
                {"strike": s.strike, "label": f"signal {s.contract_key}", "kind": "signal"}
            )
    return page


def chart_data(stock: Stock, marks: list[dict[str, Any]]) -> dict[str, Any]:
    history = stock.history or []
    return {
        "dates": [d for d, _ in history],
        "closes": [c for _, c in history],
        "marks": marks,
    }


@dataclass
class ChainView:
    symbol: str
    expirations: list[date]
    expiry: date | None
    puts: list[Any]
    calls: list[Any]
    underlying_price: float | None
    underlying_ts: datetime | None
    data_type: str
    error: str | None = None
    from_db: bool = False
    notice: str | None = None  # the expiry asked for is not listed: which one is shown instead


def _expirations(symbol: str) -> list[date]:
    """Every listed expiry (IB's option parameters: no quote asked), cached a while: the list
    changes once a day, and asking for it costs nothing against IB's quote lines."""
    key = f"chain-expirations:{symbol}"
    expirations = cache.get(key)
    if expirations is None:
        with clients.bridge(timeout=15.0) as bridge:
            expirations = bridge.chain_expirations(symbol).expirations
        cache.set(key, expirations, EXPIRATIONS_CACHE_SECONDS)
    return sorted(expirations)


def _fetch_chain(symbol: str, expiry: date) -> Chain:
    """Quotes of ONE expiry (its DTE as both ends of the bridge's window): a dozen strikes a
    side, about 24 quotes, instead of every expiry up to the user's dte_max (which took
    5-7 s and, past CHAIN_MAX_CONTRACTS, a 422 chain_too_large)."""
    key = f"chain:{symbol}:{expiry.isoformat()}"
    chain = cache.get(key)
    if chain is None:
        dte = max(0, (expiry - broker_today()).days)
        with clients.bridge(timeout=30.0) as bridge:
            chain = bridge.chain(symbol, dte_min=dte, dte_max=dte, strikes=CHAIN_STRIKES)
            if expiry not in chain.expirations:
                # the bridge's date turned over before ours (or after): one day either side
                low, high = max(0, dte - 1), dte + 1
                chain = bridge.chain(symbol, dte_min=low, dte_max=high, strikes=CHAIN_STRIKES)
        store_chain(chain)
        cache.set(key, chain, CHAIN_CACHE_SECONDS)
    return chain


def load_chain(symbol: str, expiry_raw: str | None, dte_min: int = 0) -> ChainView:
    """The chain page's table: the expiry list, then the quotes of the chosen expiry only."""
    try:
        expirations = _expirations(symbol)
        expiry = _pick(expirations, expiry_raw, dte_min)
        chain = _fetch_chain(symbol, expiry) if expiry is not None else None
    except ServiceCallError as exc:
        if exc.status in (400, 404) and not Option.objects.filter(symbol=symbol).exists():
            raise UnknownSymbol(symbol) from exc
        return _chain_from_db(symbol, expiry_raw, exc, dte_min)
    rows = [o for o in chain.options if o.contract.expiry == expiry] if chain else []
    stock = None if chain else Stock.objects.filter(symbol=symbol).first()
    return ChainView(
        notice=_not_listed(symbol, expiry_raw, expiry),
        symbol=symbol,
        expirations=expirations,
        expiry=expiry,
        puts=[
            _row(o)
            for o in sorted(rows, key=lambda o: o.contract.strike)
            if o.contract.right == "P"
        ],
        calls=[
            _row(o)
            for o in sorted(rows, key=lambda o: o.contract.strike)
            if o.contract.right == "C"
        ],
        underlying_price=chain.underlying.price if chain else (stock.price if stock else None),
        underlying_ts=chain.underlying.ts if chain else (stock.quote_ts if stock else None),
        data_type=chain.market_data_type.value if chain else "frozen",
    )


def _pick(expirations: list[date], raw: str | None, dte_min: int = 0) -> date | None:
    """The asked-for expiry, else the first inside the user's DTE window, else the first."""
    if raw:
        try:
            wanted = date.fromisoformat(raw)
        except ValueError:
            wanted = None
        if wanted in expirations:
            return wanted
    today = broker_today()
    in_window = [e for e in expirations if (e - today).days >= dte_min]
    return (in_window or expirations or [None])[0]


def _not_listed(symbol: str, raw: str | None, shown: date | None) -> str | None:
    """Say so when the expiry in the link (typed, stale, junk) is not the one shown."""
    if not raw or (shown is not None and raw == shown.isoformat()):
        return None
    instead = f"showing {shown:%b %-d, %Y}" if shown is not None else "none is listed"
    return f"No {symbol} options expire on “{raw[:20]}”: {instead}"


def _chain_from_db(
    symbol: str, expiry_raw: str | None, exc: ServiceCallError, dte_min: int = 0
) -> ChainView:
    today = broker_today()
    options = list(Option.objects.filter(symbol=symbol, expiry__gte=today))
    expirations = sorted({o.expiry for o in options})
    expiry = _pick(expirations, expiry_raw, dte_min)
    rows = [o for o in options if o.expiry == expiry]
    stock = Stock.objects.filter(symbol=symbol).first()
    return ChainView(
        notice=_not_listed(symbol, expiry_raw, expiry),
        symbol=symbol,
        expirations=expirations,
        expiry=expiry,
        puts=[_row(o) for o in rows if o.right == "P"],
        calls=[_row(o) for o in rows if o.right == "C"],
        underlying_price=stock.price if stock else None,
        underlying_ts=stock.quote_ts if stock else None,
        data_type=stock.market_data_type if stock else "frozen",
        error="IBKR is not reachable: showing stored quotes" if exc.unavailable else exc.message,
        from_db=True,
    )


NUMBERS = ["bid", "ask", "last", "iv", "delta", "gamma", "theta", "vega", "open_interest", "volume"]


def _row(o: Any) -> dict[str, Any]:
    """One chain row from either a live OptionQuote or a stored Option."""
    row = {name: getattr(o, name) for name in NUMBERS}
    if isinstance(o, Option):
        row.update(strike=o.strike, ts=o.quote_ts, data_type=o.market_data_type)
    else:
        row.update(strike=o.contract.strike, ts=o.ts, data_type=o.market_data_type.value)
    row["abs_delta"] = abs(row["delta"]) if row["delta"] is not None else None
    return row
