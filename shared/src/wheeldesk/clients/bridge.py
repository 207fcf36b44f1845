"""The gateway bridge's endpoints (`_Bridge`) and its async and sync clients."""

from __future__ import annotations

from datetime import date
from typing import Any, TypedDict, Unpack

from pydantic import TypeAdapter

from wheeldesk.clients.transport import AsyncServiceClient, Call, SyncServiceClient
from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.connection import ConnectionStatus
from wheeldesk.schemas.market import (
    Chain,
    ChainExpirations,
    History,
    Quote,
    StockInfo,
    Subscriptions,
)
from wheeldesk.schemas.orders import (
    ComboOrderRequest,
    ComboPreview,
    Fill,
    Order,
    OrderModify,
    OrderPreview,
    OrderRequest,
)
from wheeldesk.schemas.scanner import MarketScanRequest, MarketScanResult, ScannerParameters

_POSITIONS = TypeAdapter(list[Position])
_QUOTES = TypeAdapter(list[Quote])
_ORDERS = TypeAdapter(list[Order])
_FILLS = TypeAdapter(list[Fill])


class ChainFilters(TypedDict, total=False):
    """`chain`'s optional filters, for both clients: only those given go into the query (the
    bridge has its own defaults)."""

    right: str | None
    dte_min: int | None
    dte_max: int | None
    delta_min: float | None
    delta_max: float | None
    strikes: int | None


class _Bridge:
    """The gateway bridge's endpoints, each defined once for both bridge clients."""

    @staticmethod
    def status() -> Call[ConnectionStatus]:
        return Call("GET", "/v1/status", ConnectionStatus.model_validate)

    @staticmethod
    def account() -> Call[Account]:
        return Call("GET", "/v1/account", Account.model_validate)

    @staticmethod
    def positions() -> Call[list[Position]]:
        return Call("GET", "/v1/positions", _POSITIONS.validate_python)

    @staticmethod
    def quotes(symbols: list[str]) -> Call[list[Quote]]:
        params = {"symbols": ",".join(symbols)}
        return Call("GET", "/v1/quotes", _QUOTES.validate_python, params=params)

    @staticmethod
    def stock(symbol: str) -> Call[StockInfo]:
        return Call("GET", f"/v1/stocks/{symbol}", StockInfo.model_validate)

    @staticmethod
    def history(symbol: str, days: int, iv: bool) -> Call[History]:
        params: dict[str, Any] = {"days": days}
        if iv:
            params["iv"] = "true"
        return Call("GET", f"/v1/stocks/{symbol}/history", History.model_validate, params=params)

    @staticmethod
    def chain(symbol: str, filters: ChainFilters) -> Call[Chain]:
        # The clients take **filters: a misspelt one must fail as a wrong keyword does, not be
        # sent to the bridge as a query the bridge ignores.
        unknown = filters.keys() - ChainFilters.__optional_keys__
        if unknown:
            raise TypeError(f"chain() got an unexpected keyword argument {min(unknown)!r}")
        # In the filters' own order, whatever order the caller named them in.
        params = {k: filters[k] for k in ChainFilters.__annotations__ if filters.get(k) is not None}
        return Call("GET", f"/v1/chains/{symbol}", Chain.model_validate, params=params)

    @staticmethod
    def chain_expirations(symbol: str) -> Call[ChainExpirations]:
        return Call("GET", f"/v1/chains/{symbol}/expirations", ChainExpirations.model_validate)

    @staticmethod
    def preview(request: OrderRequest) -> Call[OrderPreview]:
        return Call("POST", "/v1/orders/preview", OrderPreview.model_validate, body=request)

    @staticmethod
    def place(request: OrderRequest) -> Call[Order]:
        """Idempotent by the request's `client_order_id`, so a lost answer can be re-placed."""
        return Call("POST", "/v1/orders", Order.model_validate, body=request)

    @staticmethod
    def preview_combo(request: ComboOrderRequest) -> Call[ComboPreview]:
        return Call("POST", "/v1/orders/combo/preview", ComboPreview.model_validate, body=request)

    @staticmethod
    def place_combo(request: ComboOrderRequest) -> Call[Order]:
        return Call("POST", "/v1/orders/combo", Order.model_validate, body=request)

    @staticmethod
    def modify(order_id: int | str, body: OrderModify) -> Call[Order]:
        return Call("POST", f"/v1/orders/{order_id}/modify", Order.model_validate, body=body)

    @staticmethod
    def orders() -> Call[list[Order]]:
        return Call("GET", "/v1/orders", _ORDERS.validate_python)

    @staticmethod
    def order(order_id: int | str) -> Call[Order]:
        return Call("GET", f"/v1/orders/{order_id}", Order.model_validate)

    @staticmethod
    def cancel(order_id: int | str) -> Call[Order]:
        return Call("DELETE", f"/v1/orders/{order_id}", Order.model_validate)

    @staticmethod
    def executions(since: date | None) -> Call[list[Fill]]:
        params = {"since": since.isoformat()} if since else {}
        return Call("GET", "/v1/executions", _FILLS.validate_python, params=params)

    @staticmethod
    def subscriptions() -> Call[Subscriptions]:
        return Call("GET", "/v1/subscriptions", Subscriptions.model_validate)

    @staticmethod
    def subscribe(symbols: list[str]) -> Call[Subscriptions]:
        body = {"symbols": symbols}
        return Call("POST", "/v1/subscriptions", Subscriptions.model_validate, body=body)

    @staticmethod
    def scanner_parameters() -> Call[ScannerParameters]:
        return Call("GET", "/v1/scanner/parameters", ScannerParameters.model_validate)

    @staticmethod
    def run_scanner(request: MarketScanRequest) -> Call[MarketScanResult]:
        return Call("POST", "/v1/scanner/run", MarketScanResult.model_validate, body=request)


class BridgeClient(AsyncServiceClient):
    service = "gateway-bridge"

    async def status(self) -> ConnectionStatus:
        return await self._send(_Bridge.status())

    async def account(self) -> Account:
        return await self._send(_Bridge.account())

    async def positions(self) -> list[Position]:
        return await self._send(_Bridge.positions())

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        return await self._send(_Bridge.quotes(symbols))

    async def stock(self, symbol: str) -> StockInfo:
        return await self._send(_Bridge.stock(symbol))

    async def history(self, symbol: str, days: int = 365, *, iv: bool = False) -> History:
        """Daily bars; `iv=True` adds IB's daily implied volatility (`iv_bars`)."""
        return await self._send(_Bridge.history(symbol, days, iv))

    async def chain(self, symbol: str, **filters: Unpack[ChainFilters]) -> Chain:
        return await self._send(_Bridge.chain(symbol, filters))

    async def chain_expirations(self, symbol: str) -> ChainExpirations:
        """Every listed expiry (no quotes)."""
        return await self._send(_Bridge.chain_expirations(symbol))

    async def preview(self, request: OrderRequest) -> OrderPreview:
        return await self._send(_Bridge.preview(request))

    async def place(self, request: OrderRequest) -> Order:
        return await self._send(_Bridge.place(request))

    async def preview_combo(self, request: ComboOrderRequest) -> ComboPreview:
        return await self._send(_Bridge.preview_combo(request))

    async def place_combo(self, request: ComboOrderRequest) -> Order:
        return await self._send(_Bridge.place_combo(request))

    async def modify(self, order_id: int | str, body: OrderModify) -> Order:
        return await self._send(_Bridge.modify(order_id, body))

    async def orders(self) -> list[Order]:
        return await self._send(_Bridge.orders())

    async def order(self, order_id: int | str) -> Order:
        return await self._send(_Bridge.order(order_id))

    async def cancel(self, order_id: int | str) -> Order:
        return await self._send(_Bridge.cancel(order_id))

    async def executions(self, since: date | None = None) -> list[Fill]:
        return await self._send(_Bridge.executions(since))

    async def subscriptions(self) -> Subscriptions:
        return await self._send(_Bridge.subscriptions())

    async def subscribe(self, symbols: list[str]) -> Subscriptions:
        """Replace the set of streamed symbols (`ibkr.quote.<SYMBOL>`)."""
        return await self._send(_Bridge.subscribe(symbols))

    async def scanner_parameters(self) -> ScannerParameters:
        return await self._send(_Bridge.scanner_parameters())

    async def run_scanner(self, request: MarketScanRequest) -> MarketScanResult:
        """One IB market scan (a scanner subscription), ranked rows with their details."""
        return await self._send(_Bridge.run_scanner(request))


class SyncBridgeClient(SyncServiceClient):
    service = "gateway-bridge"

    def status(self) -> ConnectionStatus:
        return self._send(_Bridge.status())

    def account(self) -> Account:
        return self._send(_Bridge.account())

    def positions(self) -> list[Position]:
        return self._send(_Bridge.positions())

    def quotes(self, symbols: list[str]) -> list[Quote]:
        return self._send(_Bridge.quotes(symbols))

    def stock(self, symbol: str) -> StockInfo:
        return self._send(_Bridge.stock(symbol))

    def history(self, symbol: str, days: int = 365, *, iv: bool = False) -> History:
        """Daily bars; `iv=True` adds IB's daily implied volatility (`iv_bars`)."""
        return self._send(_Bridge.history(symbol, days, iv))

    def chain(self, symbol: str, **filters: Unpack[ChainFilters]) -> Chain:
        return self._send(_Bridge.chain(symbol, filters))

    def chain_expirations(self, symbol: str) -> ChainExpirations:
        """Every listed expiry (no quotes): the chain page's tabs."""
        return self._send(_Bridge.chain_expirations(symbol))

    def preview(self, request: OrderRequest) -> OrderPreview:
        return self._send(_Bridge.preview(request))

    def place(self, request: OrderRequest) -> Order:
        return self._send(_Bridge.place(request))

    def preview_combo(self, request: ComboOrderRequest) -> ComboPreview:
        return self._send(_Bridge.preview_combo(request))

    def place_combo(self, request: ComboOrderRequest) -> Order:
        return self._send(_Bridge.place_combo(request))

    def modify(self, order_id: int | str, body: OrderModify) -> Order:
        return self._send(_Bridge.modify(order_id, body))

    def orders(self) -> list[Order]:
        return self._send(_Bridge.orders())

    def order(self, order_id: int | str) -> Order:
        return self._send(_Bridge.order(order_id))

    def cancel(self, order_id: int | str) -> Order:
        return self._send(_Bridge.cancel(order_id))

    def executions(self, since: date | None = None) -> list[Fill]:
        return self._send(_Bridge.executions(since))

    def subscriptions(self) -> Subscriptions:
        return self._send(_Bridge.subscriptions())

    def subscribe(self, symbols: list[str]) -> Subscriptions:
        """Replace the set of streamed symbols (`ibkr.quote.<SYMBOL>`)."""
        return self._send(_Bridge.subscribe(symbols))

    def scanner_parameters(self) -> ScannerParameters:
        return self._send(_Bridge.scanner_parameters())

    def run_scanner(self, request: MarketScanRequest) -> MarketScanResult:
        """One IB market scan (a scanner subscription), ranked rows with their details."""
        return self._send(_Bridge.run_scanner(request))
