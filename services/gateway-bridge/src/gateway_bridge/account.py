"""Account values and positions, read from ib_insync's synced state (no extra IB requests).

ib_insync subscribes to account updates at connect, so `GET /v1/account` and
`GET /v1/positions` answer from memory; changes are published on `ibkr.account`
(debounced: IB sends one message per tag) and `ibkr.position`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from typing import Any

from wheeldesk import subjects
from wheeldesk.schemas.account import Account, AccountEvent, Position, PositionEvent

from gateway_bridge.connection import IBSession
from gateway_bridge.events import EventPublisher

log = logging.getLogger(__name__)

TAGS = {
    "NetLiquidation": "net_liquidation",
    "TotalCashValue": "cash",
    "BuyingPower": "buying_power",
    "ExcessLiquidity": "excess_liquidity",
    "MaintMarginReq": "maintenance_margin",
    "InitMarginReq": "initial_margin",
    "AvailableFunds": "available_funds",
    "UnrealizedPnL": "unrealized_pnl",
    "RealizedPnL": "realized_pnl",
}


def is_paper(account_id: str | None) -> bool:
    return bool(account_id) and str(account_id).upper().startswith("DU")


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def account_from_values(account_id: str, values: list[Any]) -> Account:
    """Fold IB's (tag, value, currency) rows into one Account; base currency wins."""
    fields: dict[str, Any] = {}
    currency = "USD"
    for v in values:
        if v.account not in (account_id, "All", "") or v.tag not in TAGS:
            continue
        if v.currency in ("BASE",) and TAGS[v.tag] in fields:
            continue
        number = _float(v.value)
        if number is not None:
            fields[TAGS[v.tag]] = number
            if v.currency and v.currency != "BASE":
                currency = v.currency
    return Account(
        account_id=account_id, is_paper=is_paper(account_id), currency=currency, **fields
    )


def _expiry(value: str) -> date | None:
    if not value:
        return None
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        return None


def position_from_item(account_id: str, item: Any) -> Position:
    """From a PortfolioItem (has market value) or a plain Position (avgCost only)."""
    c = item.contract
    is_opt = c.secType == "OPT"
    quantity = float(getattr(item, "position", 0))
    return Position(
        account_id=getattr(item, "account", None) or account_id,
        symbol=c.symbol,
        sec_type="OPT" if is_opt else "STK",
        quantity=quantity,
        avg_cost=float(getattr(item, "averageCost", None) or getattr(item, "avgCost", 0) or 0),
        conid=c.conId or None,
        expiry=_expiry(c.lastTradeDateOrContractMonth) if is_opt else None,
        strike=float(c.strike) if is_opt else None,
        right=(c.right[:1] if c.right else None) if is_opt else None,
        multiplier=int(float(c.multiplier or 100)) if is_opt else 1,
        market_price=_float(getattr(item, "marketPrice", None)),
        market_value=_float(getattr(item, "marketValue", None)),
        unrealized_pnl=_float(getattr(item, "unrealizedPNL", None)),
        realized_pnl=_float(getattr(item, "realizedPNL", None)),
    )


class AccountService:
    def __init__(self, session: IBSession, publisher: EventPublisher | None) -> None:
        self.session = session
        self.publisher = publisher
        self._account_flush: asyncio.TimerHandle | None = None
        ib = session.ib
        ib.accountValueEvent += self._on_account_value
        ib.updatePortfolioEvent += self._on_portfolio
        ib.positionEvent += self._on_position

    @property
    def account_id(self) -> str:
        return self.session.account_id or ""

    def account(self) -> Account:
        self.session.require_ready()
        return account_from_values(self.account_id, self.session.ib.accountValues())

    def positions(self) -> list[Position]:
        self.session.require_ready()
        ib = self.session.ib
        items = ib.portfolio()
        by_conid = {p.contract.conId: position_from_item(self.account_id, p) for p in items}
        for p in ib.positions():
            if p.contract.conId not in by_conid:
                by_conid[p.contract.conId] = position_from_item(self.account_id, p)
        return [p for p in by_conid.values() if p.quantity != 0]

    # ---- events --------------------------------------------------------------------------
    def _on_account_value(self, value: Any) -> None:
        if self.publisher is None or self._account_flush is not None:
            return
        loop = asyncio.get_event_loop()
        self._account_flush = loop.call_later(0.25, self._publish_account)

    def _publish_account(self) -> None:
        self._account_flush = None
        if not self.account_id or self.publisher is None:
            return
        acc = account_from_values(self.account_id, self.session.ib.accountValues())
        self.publisher.spawn(subjects.ACCOUNT, AccountEvent(**acc.model_dump()))

    def _on_portfolio(self, item: Any) -> None:
        if self.publisher is None:
            return
        pos = position_from_item(self.account_id, item)
        self.publisher.spawn(subjects.POSITION, PositionEvent(**pos.model_dump()))

    def _on_position(self, position: Any) -> None:
        # Portfolio updates carry market values; plain position messages only matter when
        # a position closes or appears without a portfolio update (e.g. other accounts).
        if self.publisher is None or position.position != 0:
            return
        pos = position_from_item(self.account_id, position)
        self.publisher.spawn(subjects.POSITION, PositionEvent(**pos.model_dump()))
