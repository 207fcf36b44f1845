"""Market data routes: quotes, a stock's info and price history, option chains and their
expirations, and the set of symbols the bridge streams. Each needs a ready IB session but the
streaming set's, which is the bridge's own state."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.common import ApiError
from wheeldesk.schemas.market import (
    Chain,
    ChainExpirations,
    History,
    Quote,
    StockInfo,
    SubscriptionRequest,
    Subscriptions,
)

from gateway_bridge.bridge import Bridge
from gateway_bridge.routes import (
    STREAMS_PER_REQUEST,
    SymbolPath,
    bridge_of,
    one_symbol,
    parse_symbols,
    symbol_list_pattern,
)

router = APIRouter(tags=["market data"])


def ready_bridge(request: Request) -> Bridge:
    bridge = bridge_of(request)
    bridge.session.require_ready()
    return bridge


# A symbol IBKR does not know is a 404 naming it, as on the routes that take it in their path.
UNKNOWN_SYMBOL = {"model": ApiError, "description": "A symbol IBKR knows no US stock for"}


@router.get("/quotes", response_model=list[Quote], responses={404: UNKNOWN_SYMBOL})
async def quotes(
    request: Request,
    symbols: Annotated[
        str,
        Query(
            description="Comma-separated symbols.",
            json_schema_extra={"pattern": symbol_list_pattern()},
        ),
    ],
) -> list[Quote]:
    wanted = parse_symbols(symbols)
    return await ready_bridge(request).md.quotes(wanted)


@router.get("/stocks/{symbol}", response_model=StockInfo)
async def stock(request: Request, symbol: SymbolPath) -> StockInfo:
    symbol = one_symbol(symbol)
    return await ready_bridge(request).md.stock(symbol)


@router.get("/stocks/{symbol}/history", response_model=History)
async def history(
    request: Request,
    symbol: SymbolPath,
    days: Annotated[int, Query(ge=1, le=3650)] = 365,
    iv: bool = False,
) -> History:
    symbol = one_symbol(symbol)
    return await ready_bridge(request).md.history(symbol, days, with_iv=iv)


@router.get("/chains/{symbol}", response_model=Chain)
async def chain(
    request: Request,
    symbol: SymbolPath,
    right: Literal["P", "C"] | None = None,
    dte_min: Annotated[int, Query(ge=0, le=1200)] = 0,
    dte_max: Annotated[int, Query(ge=0, le=1200)] = 60,
    delta_min: Annotated[float | None, Query(ge=0, le=1)] = None,
    delta_max: Annotated[float | None, Query(ge=0, le=1)] = None,
    strikes: Annotated[int | None, Query(ge=1, le=500)] = None,
) -> Chain:
    symbol = one_symbol(symbol)
    if dte_min > dte_max:
        raise ServiceError(422, "invalid", "dte_min: must not exceed dte_max", field="dte_min")
    if delta_min is not None and delta_max is not None and delta_min > delta_max:
        raise ServiceError(
            422, "invalid", "delta_min: must not exceed delta_max", field="delta_min"
        )
    return await ready_bridge(request).chains.chain(
        symbol,
        right=right,
        dte_min=dte_min,
        dte_max=dte_max,
        delta_min=delta_min,
        delta_max=delta_max,
        strikes=strikes,
    )


@router.get("/chains/{symbol}/expirations", response_model=ChainExpirations)
async def chain_expirations(request: Request, symbol: SymbolPath) -> ChainExpirations:
    symbol = one_symbol(symbol)
    return await ready_bridge(request).chains.expirations(symbol)


@router.get("/subscriptions", response_model=Subscriptions)
async def get_subscriptions(request: Request) -> Subscriptions:
    return Subscriptions(**bridge_of(request).md.subscriptions())


@router.post("/subscriptions", response_model=Subscriptions)
async def set_subscriptions(request: Request, body: SubscriptionRequest) -> Subscriptions:
    # More than 100 may stream when IB grants more lines (MARKET_DATA_LINES).
    symbols = parse_symbols(",".join(body.symbols), STREAMS_PER_REQUEST) if body.symbols else []
    return Subscriptions(**await bridge_of(request).streaming.set(symbols))
