"""The bridge's HTTP surface: `/v1`'s routers put together (the routes live in
`gateway_bridge.routes`, one module per area) and IB's errors mapped to stable HTTP errors."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from ib_insync import RequestError
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.common import ApiError

from gateway_bridge import scanner
from gateway_bridge.limits import QueueTimeout
from gateway_bridge.routes import account, market, orders


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


def router() -> APIRouter:
    """Every `/v1` route: one router per area (`gateway_bridge.routes`), the scanner's last."""
    v1 = APIRouter(prefix="/v1")
    for area in (account.router, market.router, orders.router, scanner.router()):
        v1.include_router(area)
    return v1
