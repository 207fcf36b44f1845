"""HTTP routes (`/v1`): thin wrappers over the bridge's plain services, plus IB error mapping."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from ib_insync import RequestError
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.common import ApiError
from wheeldesk.schemas.connection import ConnectionStatus
from wheeldesk.schemas.market import (
    Chain,
    ChainExpirations,
    History,
    Quote,
    StockInfo,
    SubscriptionRequest,
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

from gateway_bridge import scanner
from gateway_bridge.bridge import Bridge
from gateway_bridge.limits import QueueTimeout

log = logging.getLogger(__name__)

SYMBOL = r"^[A-Za-z][A-Za-z0-9.\-]{0,11}$"


def ib_error_to_service_error(code: int, message: str) -> ServiceError:
    """Known IB error codes → stable HTTP errors (never a 500)."""
    lower = message.lower()
    if code == 200:
        return ServiceError(404, "unknown_contract", f"IBKR: {message}")
    if code in (100, 101, 420) or "pacing" in lower:
        return ServiceError(
            429, "ib_pacing", f"IBKR pacing limit: {message}", headers={"Retry-After": "10"}
        )
    if code == 162:
        return ServiceError(404, "no_data", f"IBKR has no data: {message}")
    if code in (354, 10089, 10090, 10167, 10168, 10186, 10197):
        return ServiceError(
            503,
            "no_market_data",
            f"IBKR: no market data subscription: {message}",
            headers={"Retry-After": "60"},
        )
    if code in (201, 202, 110, 103, 104, 105, 321):
        return ServiceError(422, "ib_rejected", f"IBKR rejected the request: {message}")
    if code in (502, 504, 1100, 2110):
        return ServiceError(
            503, "ib_unavailable", f"IBKR unavailable: {message}", headers={"Retry-After": "5"}
        )
    return ServiceError(502, "ib_error", f"IBKR error {code}: {message}")


def install_ib_error_handlers(app: FastAPI) -> None:
    def reply(exc: ServiceError) -> JSONResponse:
        body = ApiError(code=exc.code, message=exc.message, field=exc.field)
        return JSONResponse(body.model_dump(exclude_none=True), exc.status, headers=exc.headers)

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return reply(ib_error_to_service_error(exc.code, exc.message))

    @app.exception_handler(ConnectionError)
    async def _connection_error(_: Request, exc: ConnectionError) -> JSONResponse:
        return reply(
            ServiceError(
                503,
                "ib_unavailable",
                f"connection to IBKR lost during the request: {exc}",
                headers={"Retry-After": "5"},
            )
        )

    @app.exception_handler(QueueTimeout)
    async def _queue_timeout(_: Request, exc: QueueTimeout) -> JSONResponse:
        return reply(
            ServiceError(
                429,
                "ib_pacing",
                f"IBKR limits: {exc}; try again shortly",
                headers={"Retry-After": "5"},
            )
        )


def bridge_of(request: Request) -> Bridge:
    return request.app.state.bridge


QUOTES_PER_REQUEST = 100
STREAMS_PER_REQUEST = 500  # SubscriptionRequest's bound; the line budget decides what streams


def parse_symbols(raw: str, limit: int = QUOTES_PER_REQUEST) -> list[str]:
    import re

    symbols = [s.strip().upper() for s in raw.split(",") if s.strip()]
    if not symbols:
        raise ServiceError(422, "invalid", "symbols: give at least one symbol", field="symbols")
    if len(symbols) > limit:
        raise ServiceError(422, "invalid", f"symbols: at most {limit} per request", field="symbols")
    for s in symbols:
        if not re.match(SYMBOL, s):
            raise ServiceError(422, "invalid", f"symbols: {s!r} is not a symbol", field="symbols")
    return list(dict.fromkeys(symbols))


def router() -> APIRouter:
    r = APIRouter(prefix="/v1")

    @r.get("/status", response_model=ConnectionStatus, tags=["connection"])
    async def status(request: Request) -> ConnectionStatus:
        session = bridge_of(request).session
        await session.refresh_clock(max_age=5.0)
        return session.current_status()

    @r.get("/account", response_model=Account, tags=["account"])
    async def account(request: Request) -> Account:
        return bridge_of(request).account.account()

    @r.get("/positions", response_model=list[Position], tags=["account"])
    async def positions(request: Request) -> list[Position]:
        return bridge_of(request).account.positions()

    @r.get("/quotes", response_model=list[Quote], tags=["market data"])
    async def quotes(request: Request, symbols: Annotated[str, Query()]) -> list[Quote]:
        wanted = parse_symbols(symbols)
        bridge = bridge_of(request)
        bridge.session.require_ready()
        return await bridge.md.quotes(wanted)

    @r.get("/stocks/{symbol}", response_model=StockInfo, tags=["market data"])
    async def stock(request: Request, symbol: str) -> StockInfo:
        symbol = parse_symbols(symbol)[0]
        bridge = bridge_of(request)
        bridge.session.require_ready()
        return await bridge.md.stock(symbol)

    @r.get("/stocks/{symbol}/history", response_model=History, tags=["market data"])
    async def history(
        request: Request,
        symbol: str,
        days: Annotated[int, Query(ge=1, le=3650)] = 365,
        iv: bool = False,
    ) -> History:
        symbol = parse_symbols(symbol)[0]
        bridge = bridge_of(request)
        bridge.session.require_ready()
        return await bridge.md.history(symbol, days, with_iv=iv)

    @r.get("/chains/{symbol}", response_model=Chain, tags=["market data"])
    async def chain(
        request: Request,
        symbol: str,
        right: Literal["P", "C"] | None = None,
        dte_min: Annotated[int, Query(ge=0, le=1200)] = 0,
        dte_max: Annotated[int, Query(ge=0, le=1200)] = 60,
        delta_min: Annotated[float | None, Query(ge=0, le=1)] = None,
        delta_max: Annotated[float | None, Query(ge=0, le=1)] = None,
        strikes: Annotated[int | None, Query(ge=1, le=500)] = None,
    ) -> Chain:
        symbol = parse_symbols(symbol)[0]
        if dte_min > dte_max:
            raise ServiceError(422, "invalid", "dte_min: must not exceed dte_max", field="dte_min")
        if delta_min is not None and delta_max is not None and delta_min > delta_max:
            raise ServiceError(
                422, "invalid", "delta_min: must not exceed delta_max", field="delta_min"
            )
        bridge = bridge_of(request)
        bridge.session.require_ready()
        return await bridge.chains.chain(
            symbol,
            right=right,
            dte_min=dte_min,
            dte_max=dte_max,
            delta_min=delta_min,
            delta_max=delta_max,
            strikes=strikes,
        )

    @r.get("/chains/{symbol}/expirations", response_model=ChainExpirations, tags=["market data"])
    async def chain_expirations(request: Request, symbol: str) -> ChainExpirations:
        symbol = parse_symbols(symbol)[0]
        bridge = bridge_of(request)
        bridge.session.require_ready()
        return await bridge.chains.expirations(symbol)

    @r.get("/subscriptions", response_model=Subscriptions, tags=["market data"])
    async def get_subscriptions(request: Request) -> Subscriptions:
        return Subscriptions(**bridge_of(request).md.subscriptions())

    @r.post("/subscriptions", response_model=Subscriptions, tags=["market data"])
    async def set_subscriptions(request: Request, body: SubscriptionRequest) -> Subscriptions:
        # More than 100 may stream when IB grants more lines (MARKET_DATA_LINES).
        symbols = parse_symbols(",".join(body.symbols), STREAMS_PER_REQUEST) if body.symbols else []
        return Subscriptions(**await bridge_of(request).md.set_subscriptions(symbols))

    @r.post("/orders/preview", response_model=OrderPreview, tags=["orders"])
    async def preview(request: Request, body: OrderRequest) -> OrderPreview:
        return await bridge_of(request).orders.preview(body)

    @r.post("/orders", response_model=Order, status_code=201, tags=["orders"])
    async def place(request: Request, body: OrderRequest, response: Response) -> Order:
        order, created = await bridge_of(request).orders.place(body)
        response.status_code = 201 if created else 200
        return order

    @r.post("/orders/combo/preview", response_model=ComboPreview, tags=["orders"])
    async def preview_combo(request: Request, body: ComboOrderRequest) -> ComboPreview:
        """A roll (or spread) as one combo: IB's what-if and the suggested net limit."""
        return await bridge_of(request).orders.combos.preview(body)

    @r.post("/orders/combo", response_model=Order, status_code=201, tags=["orders"])
    async def place_combo(request: Request, body: ComboOrderRequest, response: Response) -> Order:
        """One BAG order for all legs: idempotent by client_order_id like a single order."""
        order, created = await bridge_of(request).orders.combos.place(body)
        response.status_code = 201 if created else 200
        return order

    @r.get("/orders", response_model=list[Order], tags=["orders"])
    async def orders(request: Request) -> list[Order]:
        return bridge_of(request).orders.list()

    @r.get("/orders/{order_id}", response_model=Order, tags=["orders"])
    async def order(request: Request, order_id: str) -> Order:
        return bridge_of(request).orders.get(order_id)

    @r.post("/orders/{order_id}/modify", response_model=Order, tags=["orders"])
    async def modify(request: Request, order_id: str, body: OrderModify) -> Order:
        """Re-price a working order: IB's modify of the same order, not a new one."""
        return await bridge_of(request).orders.modify(order_id, body)

    @r.delete("/orders/{order_id}", response_model=Order, tags=["orders"])
    async def cancel(request: Request, order_id: str) -> Order:
        bridge = bridge_of(request)
        bridge.session.require_ready()
        return await bridge.orders.cancel(order_id)

    @r.get("/executions", response_model=list[Fill], tags=["orders"])
    async def executions(request: Request, since: date | None = None) -> list[Fill]:
        return await bridge_of(request).orders.executions(since)

    r.include_router(scanner.router())
    return r
