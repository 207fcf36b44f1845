"""The account as the bridge reports it: balances, positions with quotes, open orders, this
week's expiries and the cash-secured capacity — what the dashboard shows and the stock page marks.

Fetched from the bridge (cached for a couple of seconds so twenty open tabs cost one call);
when the bridge cannot answer, the last snapshot is shown with its age instead of an error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.cache import cache
from wheeldesk.clients import ServiceCallError
from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.common import utcnow
from wheeldesk.schemas.market import Quote
from wheeldesk.schemas.orders import Order

from wheeldesk_web.core import clients
from wheeldesk_web.core.clock import broker_today
from wheeldesk_web.market.services import last_account, store_account
from wheeldesk_web.signals import capacity
from wheeldesk_web.signals.capacity import Capacity

CACHE_KEY = "dashboard:data"
CACHE_SECONDS = 2
SNAPSHOT_KEY = "dashboard:last-good"
_refreshing = threading.Lock()


@dataclass
class PositionRow:
    position: Position
    quote: Quote | None
    price: float | None
    price_ts: datetime | None
    data_type: str | None

    @property
    def is_option(self) -> bool:
        return self.position.sec_type == "OPT"

    @property
    def label(self) -> str:
        p = self.position
        if p.sec_type == "OPT" and p.expiry and p.strike is not None:
            return f"{p.symbol} {p.expiry.isoformat()} {p.strike:g}{p.right}"
        return p.symbol

    @property
    def dte(self) -> int | None:
        if self.position.expiry is None:
            return None
        return (self.position.expiry - broker_today()).days


@dataclass
class DashboardData:
    account: Account | None = None
    positions: list[PositionRow] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    error: str | None = None
    fetched: datetime | None = None
    stale: bool = False
    capacity: Capacity | None = None

    @property
    def stock_rows(self) -> list[PositionRow]:
        return [r for r in self.positions if not r.is_option]

    @property
    def option_rows(self) -> list[PositionRow]:
        return [r for r in self.positions if r.is_option]

    @property
    def expiring_this_week(self) -> list[PositionRow]:
        today = broker_today()
        end = today + timedelta(days=6 - today.weekday() if today.weekday() < 5 else 7)
        return [
            r
            for r in self.option_rows
            if r.position.expiry and r.position.quantity < 0 and r.position.expiry <= end
        ]

    @property
    def margin_use_pct(self) -> float | None:
        a = self.account
        if a is None or not a.net_liquidation or a.maintenance_margin is None:
            return None
        return a.maintenance_margin / a.net_liquidation * 100

    @property
    def symbols(self) -> list[str]:
        return sorted({r.position.symbol for r in self.positions})


def _fetch() -> DashboardData:
    now = utcnow()
    bridge = clients.kept_bridge(timeout=5.0)
    account = bridge.account()
    positions = bridge.positions()
    orders = [o for o in bridge.orders() if not o.status.is_terminal]
    symbols = sorted({p.symbol for p in positions})
    quotes = {q.symbol: q for q in bridge.quotes(symbols)} if symbols else {}
    rows = []
    for p in sorted(positions, key=lambda p: (p.sec_type, p.symbol, p.expiry or date.min)):
        quote = quotes.get(p.symbol)
        if p.sec_type == "STK" and quote is not None:
            rows.append(PositionRow(p, quote, quote.price, quote.ts, quote.market_data_type.value))
        else:
            # Option marks come with the portfolio update; the bridge's data type applies.
            dtype = quote.market_data_type.value if quote else None
            rows.append(PositionRow(p, quote, p.market_price, now, dtype))
    # cash left to secure a new put: the headline for a cash-secured wheel (not margin)
    cash = capacity.compute(account, positions, capacity.working_sell_puts(orders))
    return DashboardData(account=account, positions=rows, orders=orders, fetched=now, capacity=cash)


def dashboard_data() -> DashboardData:
    """The numbers, at most `CACHE_SECONDS` old; one request per process asks the bridge.

    Twenty browsers whose cache expired together wait for one answer instead of asking the
    bridge twenty times. (Serving the previous numbers during the refresh was faster, but a
    position just filled must be on the dashboard the next time it is opened.)
    """
    cached = cache.get(CACHE_KEY)
    if cached is not None:
        return cached
    with _refreshing:
        cached = cache.get(CACHE_KEY)
        return cached if cached is not None else _refresh()


def forget_dashboard() -> None:
    """Drop this process's cached numbers (e.g. right after an order was placed)."""
    cache.delete(CACHE_KEY)


def _refresh() -> DashboardData:
    try:
        data = _fetch()
    except ServiceCallError as exc:
        last = cache.get(SNAPSHOT_KEY)
        reason = exc.message if not exc.unavailable else "the gateway bridge is not answering"
        if last is None:
            last = _from_database()
        if last is None:
            last = DashboardData()
        last.error, last.stale = reason, True
        # Remember the failure as briefly as a success: a down bridge is not asked per page.
        cache.set(CACHE_KEY, last, CACHE_SECONDS)
        return last
    cache.set(CACHE_KEY, data, CACHE_SECONDS)
    cache.set(SNAPSHOT_KEY, data, None)
    if data.account is not None and cache.add("dashboard:snapshot-written", 1, 60):
        store_account(data.account, [r.position for r in data.positions])
    return data


def _from_database() -> DashboardData | None:
    stored = last_account()
    if stored is None:
        return None
    account, positions = stored
    rows = [PositionRow(p, None, p.market_price, account.ts, "frozen") for p in positions]
    cash = capacity.compute(account, positions, capacity.working_sell_puts([]))
    return DashboardData(account=account, positions=rows, fetched=account.ts, capacity=cash)
