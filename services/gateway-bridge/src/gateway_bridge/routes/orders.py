"""Order routes: preview and place (single and combo, idempotent by client_order_id: 201 when
placed, 200 when it already was), list, look up, modify, cancel, and the executions."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError
from wheeldesk.schemas.common import ApiError
from wheeldesk.schemas.orders import (
    ComboOrderRequest,
    ComboPreview,
    Fill,
    Order,
    OrderModify,
    OrderPreview,
    OrderRequest,
)

from gateway_bridge.routes import bridge_of

router = APIRouter(tags=["orders"])


def _iso_date(value: Any) -> Any:
    """A date as its schema says (`format: date`, YYYY-MM-DD): pydantic alone would also read
    a number, "-3.7e-37", as a Unix time (schemathesis found it answering 200)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise PydanticCustomError("date_parsing", "Input should be a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]

# A contract IBKR does not list (a symbol, an expiry, a strike) is a 404 naming it.
UNKNOWN_CONTRACT = {404: {"model": ApiError, "description": "A contract IBKR does not list"}}


@router.post("/orders/preview", response_model=OrderPreview, responses=UNKNOWN_CONTRACT)
async def preview(request: Request, body: OrderRequest) -> OrderPreview:
    return await bridge_of(request).orders.preview(body)


@router.post("/orders", response_model=Order, status_code=201, responses=UNKNOWN_CONTRACT)
async def place(request: Request, body: OrderRequest, response: Response) -> Order:
    order, created = await bridge_of(request).orders.place(body)
    response.status_code = 201 if created else 200
    return order


@router.post("/orders/combo/preview", response_model=ComboPreview, responses=UNKNOWN_CONTRACT)
async def preview_combo(request: Request, body: ComboOrderRequest) -> ComboPreview:
    """A roll (or spread) as one combo: IB's what-if and the suggested net limit."""
    return await bridge_of(request).orders.combos.preview(body)


@router.post("/orders/combo", response_model=Order, status_code=201, responses=UNKNOWN_CONTRACT)
async def place_combo(request: Request, body: ComboOrderRequest, response: Response) -> Order:
    """One BAG order for all legs: idempotent by client_order_id like a single order."""
    order, created = await bridge_of(request).orders.combos.place(body)
    response.status_code = 201 if created else 200
    return order


@router.get("/orders", response_model=list[Order])
async def orders(request: Request) -> list[Order]:
    return bridge_of(request).orders.list()


@router.get("/orders/{order_id}", response_model=Order)
async def order(request: Request, order_id: str) -> Order:
    return bridge_of(request).orders.get(order_id)


@router.post("/orders/{order_id}/modify", response_model=Order)
async def modify(request: Request, order_id: str, body: OrderModify) -> Order:
    """Re-price a working order: IB's modify of the same order, not a new one."""
    return await bridge_of(request).orders.modify(order_id, body)


@router.delete("/orders/{order_id}", response_model=Order)
async def cancel(request: Request, order_id: str) -> Order:
    bridge = bridge_of(request)
    bridge.session.require_ready()
    return await bridge.orders.cancel(order_id)


@router.get("/executions", response_model=list[Fill])
async def executions(
    request: Request, since: Annotated[IsoDate | None, Query()] = None
) -> list[Fill]:
    return await bridge_of(request).orders.executions(since)
