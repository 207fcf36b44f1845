"""Fixtures of the web's order tests: an in-process stand-in of the bridge API.

The stand-in keeps the bridge's contract (dedup on client_order_id, an order list,
what-if, a 503 "not connected" while IBKR is away) so the tests pin the web's own
guarantees; the same flows run against the real bridge + tws-sim in the e2e tests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # web_factories, the rows tests build

import pytest
from web_factories import option_fill, quote, stock_position
from wheeldesk.clients import ServiceCallError
from wheeldesk.markettime import BROKER_CLOCK
from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.market import Fundamentals, StockInfo
from wheeldesk.schemas.orders import Order, OrderPreview, OrderRequest, OrderStatus


class FakeBridge:
    """Same contract as SyncBridgeClient for the calls the order pages make."""

    def __init__(self) -> None:
        self.placed: dict[str, Order] = {}
        self.place_calls = 0
        self.lose_next_answer = False
        self.refuse: ServiceCallError | None = None
        self.account_id = "DU7654321"
        self.available_funds = 180_000.0
        self.cash = 200_000.0

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        """Any other bridge call (chains, history…): the bridge does not answer it."""
        if name.startswith("_"):
            raise AttributeError(name)

        def unavailable(*args: object, **kwargs: object) -> None:
            raise ServiceCallError("gateway-bridge", None, "unreachable", f"{name}: not faked")

        return unavailable

    def __exit__(self, *exc: object) -> None:
        pass

    def preview(self, req: OrderRequest) -> OrderPreview:
        return OrderPreview(
            request=req,
            account_id=self.account_id,
            is_paper=self.account_id.startswith("DU"),
            commission=1.05,
            init_margin_change=4_500.0,
            maint_margin_change=4_500.0,
            buying_power_before=180_000.0,
            buying_power_after=175_500.0,
            bid=1.00,
            ask=1.20,
            mid=1.10,
            suggested_limit=1.10,  # the bridge prices a limit on the contract's real tick
        )

    def account(self) -> Account:
        return Account(
            account_id=self.account_id,
            is_paper=True,
            net_liquidation=250_000,
            cash=self.cash,
            buying_power=self.available_funds,
            available_funds=self.available_funds,
        )

    def positions(self) -> list[Position]:
        return [stock_position("KO", 200, account_id=self.account_id, market_value=12_800)]

    def orders(self) -> list[Order]:
        return list(self.placed.values())

    def order(self, order_id: int) -> Order:
        for o in self.placed.values():
            if o.order_id == order_id:
                return o
        raise ServiceCallError("gateway-bridge", 404, "not_found", "no such order")

    def stock(self, symbol: str) -> StockInfo:
        return StockInfo(symbol=symbol, quote=quote(symbol, 64.0), fundamentals=Fundamentals())

    def place(self, req: OrderRequest) -> Order:
        self.place_calls += 1
        if self.refuse:
            raise self.refuse
        if req.client_order_id not in self.placed:  # the bridge's dedup
            self.placed[req.client_order_id] = Order(
                order_id=100 + len(self.placed),
                client_order_id=req.client_order_id,
                account_id=self.account_id,
                request=req,
                status=OrderStatus.SUBMITTED,
                remaining=req.quantity,
            )
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise ServiceCallError("gateway-bridge", None, "timeout", "timed out")
        return self.placed[req.client_order_id]

    def cancel(self, order_id: int) -> Order:
        o = self.order(order_id)
        o.status = OrderStatus.CANCELLED
        return o

    def fill(self, client_order_id: str, price: float) -> None:
        o = self.placed[client_order_id]
        r = o.request
        o.status, o.filled, o.remaining, o.avg_fill_price = OrderStatus.FILLED, r.quantity, 0, price
        o.fills = [
            option_fill(
                f"e-{o.order_id}",
                order_id=o.order_id,
                client_order_id=r.client_order_id,
                time=BROKER_CLOCK.now(),
                symbol=r.symbol,
                expiry=r.expiry,
                strike=r.strike,
                right=r.right,
                side="SLD" if r.action == "SELL" else "BOT",
                quantity=r.quantity,
                price=price,
            )
        ]
        o.commission = 1.05


@pytest.fixture
def bridge(monkeypatch) -> FakeBridge:
    fake = FakeBridge()
    monkeypatch.setattr("wheeldesk_web.core.clients.bridge", lambda timeout=8.0: fake)
    return fake


@pytest.fixture(autouse=True)
def fresh_throttle() -> Iterator[None]:
    """The password-reset counters are files (shared by every web process, and by every test
    run in this checkout within 15 minutes): each test starts and ends with none, so no test
    is throttled by the resets another one posted."""
    from django.core.cache import caches

    caches["throttle"].clear()
    yield
    caches["throttle"].clear()
