"""Typed HTTP clients for the bridge, screener and notifier APIs.

One owner for how services call each other: the bearer token, the request id,
timeouts, and turning an error answer into `ServiceCallError` with the
service's own `code` and message. Each client has a sync twin for Django views
and management commands.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from wheeldesk.logs import REQUEST_ID_HEADER, current_request_id, new_request_id
from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.connection import ConnectionStatus
from wheeldesk.schemas.email import EmailAccepted, EmailRequest, EmailStatus
from wheeldesk.schemas.market import Chain, History, Quote, StockInfo, Subscriptions
from wheeldesk.schemas.orders import Fill, Order, OrderPreview, OrderRequest
from wheeldesk.schemas.screener import (
    PriceRequest,
    PriceResponse,
    ScanJob,
    ScanRequest,
    ScanResult,
)

M = TypeVar("M")


class ServiceCallError(Exception):
    """A call to another Wheeldesk service failed; `unavailable` means it did not answer."""

    def __init__(
        self,
        service: str,
        status: int | None,
        code: str,
        message: str,
        *,
        field: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after

    @property
    def unavailable(self) -> bool:
        return self.status is None or self.status in (502, 503, 504)


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        REQUEST_ID_HEADER: current_request_id() or new_request_id(),
    }


def _raise_for(service: str, response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    retry = response.headers.get("retry-after")
    raise ServiceCallError(
        service,
        response.status_code,
        str(body.get("code", "http_error")) if isinstance(body, dict) else "http_error",
        str(body.get("message", response.text[:200]))
        if isinstance(body, dict)
        else response.text[:200],
        field=body.get("field") if isinstance(body, dict) else None,
        retry_after=float(retry) if retry and retry.replace(".", "", 1).isdigit() else None,
    )


def _parse(model: Any, data: Any) -> Any:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model.model_validate(data)
    return TypeAdapter(model).validate_python(data)


class _Base:
    service = "service"

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout


class _AsyncBase(_Base):
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        super().__init__(base_url, token, timeout=timeout)
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, method: str, path: str, model: Any = None, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(
                method, path, headers=_headers(self.token), **kwargs
            )
        except httpx.TimeoutException as exc:
            raise ServiceCallError(self.service, None, "timeout", f"timed out ({exc})") from exc
        except httpx.TransportError as exc:
            raise ServiceCallError(
                self.service, None, "unreachable", f"unreachable ({exc})"
            ) from exc
        _raise_for(self.service, response)
        return _parse(model, response.json()) if model is not None else response.json()

    async def ready(self) -> dict[str, Any]:
        try:
            response = await self._client.get("/readyz", headers=_headers(self.token))
        except httpx.TransportError as exc:
            return {"status": "down", "reason": str(exc) or type(exc).__name__}
        return response.json()


class _SyncBase(_Base):
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        super().__init__(base_url, token, timeout=timeout)
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, model: Any = None, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, headers=_headers(self.token), **kwargs)
        except httpx.TimeoutException as exc:
            raise ServiceCallError(self.service, None, "timeout", f"timed out ({exc})") from exc
        except httpx.TransportError as exc:
            raise ServiceCallError(
                self.service, None, "unreachable", f"unreachable ({exc})"
            ) from exc
        _raise_for(self.service, response)
        return _parse(model, response.json()) if model is not None else response.json()

    def ready(self) -> dict[str, Any]:
        try:
            response = self._client.get("/readyz", headers=_headers(self.token))
        except httpx.TransportError as exc:
            return {"status": "down", "reason": str(exc) or type(exc).__name__}
        return response.json()


def _chain_params(
    right: str | None,
    dte_min: int | None,
    dte_max: int | None,
    delta_min: float | None,
    delta_max: float | None,
    strikes: int | None,
) -> dict[str, Any]:
    params = {
        "right": right,
        "dte_min": dte_min,
        "dte_max": dte_max,
        "delta_min": delta_min,
        "delta_max": delta_max,
        "strikes": strikes,
    }
    return {k: v for k, v in params.items() if v is not None}


class BridgeClient(_AsyncBase):
    service = "gateway-bridge"

    async def status(self) -> ConnectionStatus:
        return await self._call("GET", "/v1/status", ConnectionStatus)

    async def account(self) -> Account:
        return await self._call("GET", "/v1/account", Account)

    async def positions(self) -> list[Position]:
        return await self._call("GET", "/v1/positions", list[Position])

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        return await self._call(
            "GET", "/v1/quotes", list[Quote], params={"symbols": ",".join(symbols)}
        )

    async def stock(self, symbol: str) -> StockInfo:
        return await self._call("GET", f"/v1/stocks/{symbol}", StockInfo)

    async def history(self, symbol: str, days: int = 365, *, iv: bool = False) -> History:
        """Daily bars; `iv=True` adds IB's daily implied volatility (`iv_bars`)."""
        params: dict[str, Any] = {"days": days}
        if iv:
            params["iv"] = "true"
        return await self._call("GET", f"/v1/stocks/{symbol}/history", History, params=params)

    async def chain(
        self,
        symbol: str,
        *,
        right: str | None = None,
        dte_min: int | None = None,
        dte_max: int | None = None,
        delta_min: float | None = None,
        delta_max: float | None = None,
        strikes: int | None = None,
    ) -> Chain:
        params = _chain_params(right, dte_min, dte_max, delta_min, delta_max, strikes)
        return await self._call("GET", f"/v1/chains/{symbol}", Chain, params=params)

    async def preview(self, request: OrderRequest) -> OrderPreview:
        return await self._call(
            "POST", "/v1/orders/preview", OrderPreview, json=request.model_dump(mode="json")
        )

    async def place(self, request: OrderRequest) -> Order:
        return await self._call("POST", "/v1/orders", Order, json=request.model_dump(mode="json"))

    async def orders(self) -> list[Order]:
        return await self._call("GET", "/v1/orders", list[Order])

    async def order(self, order_id: int | str) -> Order:
        return await self._call("GET", f"/v1/orders/{order_id}", Order)

    async def cancel(self, order_id: int | str) -> Order:
        return await self._call("DELETE", f"/v1/orders/{order_id}", Order)

    async def executions(self, since: date | None = None) -> list[Fill]:
        params = {"since": since.isoformat()} if since else {}
        return await self._call("GET", "/v1/executions", list[Fill], params=params)

    async def subscriptions(self) -> Subscriptions:
        return await self._call("GET", "/v1/subscriptions", Subscriptions)

    async def subscribe(self, symbols: list[str]) -> Subscriptions:
        """Replace the set of streamed symbols (`ibkr.quote.<SYMBOL>`)."""
        return await self._call(
            "POST", "/v1/subscriptions", Subscriptions, json={"symbols": symbols}
        )


class SyncBridgeClient(_SyncBase):
    service = "gateway-bridge"

    def status(self) -> ConnectionStatus:
        return self._call("GET", "/v1/status", ConnectionStatus)

    def account(self) -> Account:
        return self._call("GET", "/v1/account", Account)

    def positions(self) -> list[Position]:
        return self._call("GET", "/v1/positions", list[Position])

    def quotes(self, symbols: list[str]) -> list[Quote]:
        return self._call("GET", "/v1/quotes", list[Quote], params={"symbols": ",".join(symbols)})

    def stock(self, symbol: str) -> StockInfo:
        return self._call("GET", f"/v1/stocks/{symbol}", StockInfo)

    def history(self, symbol: str, days: int = 365, *, iv: bool = False) -> History:
        params: dict[str, Any] = {"days": days}
        if iv:
            params["iv"] = "true"
        return self._call("GET", f"/v1/stocks/{symbol}/history", History, params=params)

    def chain(
        self,
        symbol: str,
        *,
        right: str | None = None,
        dte_min: int | None = None,
        dte_max: int | None = None,
        delta_min: float | None = None,
        delta_max: float | None = None,
        strikes: int | None = None,
    ) -> Chain:
        params = _chain_params(right, dte_min, dte_max, delta_min, delta_max, strikes)
        return self._call("GET", f"/v1/chains/{symbol}", Chain, params=params)

    def preview(self, request: OrderRequest) -> OrderPreview:
        return self._call(
            "POST", "/v1/orders/preview", OrderPreview, json=request.model_dump(mode="json")
        )

    def place(self, request: OrderRequest) -> Order:
        return self._call("POST", "/v1/orders", Order, json=request.model_dump(mode="json"))

    def orders(self) -> list[Order]:
        return self._call("GET", "/v1/orders", list[Order])

    def order(self, order_id: int | str) -> Order:
        return self._call("GET", f"/v1/orders/{order_id}", Order)

    def cancel(self, order_id: int | str) -> Order:
        return self._call("DELETE", f"/v1/orders/{order_id}", Order)

    def executions(self, since: date | None = None) -> list[Fill]:
        params = {"since": since.isoformat()} if since else {}
        return self._call("GET", "/v1/executions", list[Fill], params=params)

    def subscriptions(self) -> Subscriptions:
        return self._call("GET", "/v1/subscriptions", Subscriptions)

    def subscribe(self, symbols: list[str]) -> Subscriptions:
        """Replace the set of streamed symbols (`ibkr.quote.<SYMBOL>`)."""
        return self._call("POST", "/v1/subscriptions", Subscriptions, json={"symbols": symbols})


def _job_result(job: ScanJob) -> ScanResult:
    if job.result is None:
        unavailable = job.error is not None and job.error.startswith("gateway-bridge")
        raise ServiceCallError(
            "screener",
            503 if unavailable else 500,
            "bridge_unavailable" if unavailable else "scan_failed",
            job.error or "scan failed",
        )
    return job.result


class ScreenerClient(_AsyncBase):
    service = "screener"

    async def scan(self, request: ScanRequest, *, poll_seconds: float = 1.0) -> ScanResult:
        """Run a scan; over 200 symbols the screener answers with a job, polled to its end."""
        body = await self._call("POST", "/v1/scans", json=request.model_dump(mode="json"))
        if "signals" in body:
            return ScanResult.model_validate(body)
        job = ScanJob.model_validate(body)
        while job.status == "running":
            await asyncio.sleep(poll_seconds)
            job = await self.scan_job(job.scan_id)
        return _job_result(job)

    async def price(self, request: PriceRequest) -> PriceResponse:
        return await self._call(
            "POST", "/v1/price", PriceResponse, json=request.model_dump(mode="json")
        )

    async def scan_job(self, scan_id: str) -> ScanJob:
        """A scan of over 200 symbols runs as a job: poll it until `status != "running"`."""
        return await self._call("GET", f"/v1/scans/{scan_id}", ScanJob)


class SyncScreenerClient(_SyncBase):
    service = "screener"

    def scan(self, request: ScanRequest, *, poll_seconds: float = 1.0) -> ScanResult:
        body = self._call("POST", "/v1/scans", json=request.model_dump(mode="json"))
        if "signals" in body:
            return ScanResult.model_validate(body)
        job = ScanJob.model_validate(body)
        while job.status == "running":
            time.sleep(poll_seconds)
            job = self.scan_job(job.scan_id)
        return _job_result(job)

    def price(self, request: PriceRequest) -> PriceResponse:
        return self._call("POST", "/v1/price", PriceResponse, json=request.model_dump(mode="json"))

    def scan_job(self, scan_id: str) -> ScanJob:
        return self._call("GET", f"/v1/scans/{scan_id}", ScanJob)


class NotifierClient(_AsyncBase):
    service = "notifier"

    async def send(self, request: EmailRequest) -> EmailAccepted:
        return await self._call(
            "POST", "/v1/emails", EmailAccepted, json=request.model_dump(mode="json")
        )

    async def status(self, email_id: str) -> EmailStatus:
        return await self._call("GET", f"/v1/emails/{email_id}", EmailStatus)


class SyncNotifierClient(_SyncBase):
    service = "notifier"

    def send(self, request: EmailRequest) -> EmailAccepted:
        return self._call("POST", "/v1/emails", EmailAccepted, json=request.model_dump(mode="json"))

    def status(self, email_id: str) -> EmailStatus:
        return self._call("GET", f"/v1/emails/{email_id}", EmailStatus)
