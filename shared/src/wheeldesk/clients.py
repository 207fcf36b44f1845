"""Typed HTTP clients for the bridge, screener and notifier APIs.

One owner for how services call each other: the bearer token, the request id,
timeouts, and turning an error answer into `ServiceCallError` with the
service's own `code` and message. Each client has a sync twin for Django views
and management commands.

Each endpoint is defined once, in its service's endpoint table (`_Bridge`,
`_Screener`, `_Notifier`): method, path, query, body and the model its answer is
read into, as a `_Request`. The async and the sync client only send that request
through their one transport (`_AsyncBase._send`, `_SyncBase._send`), so the two
cannot drift apart; their methods stay written out, one line each, so that
signatures and return types are plain to read and to type-check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, Self, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from wheeldesk.logs import REQUEST_ID_HEADER, current_request_id, new_request_id
from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.connection import ConnectionStatus
from wheeldesk.schemas.email import EmailAccepted, EmailRequest, EmailStatus
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


@contextmanager
def _transport_errors(service: str) -> Iterator[None]:
    """A service that did not answer becomes `ServiceCallError` with no status."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ServiceCallError(service, None, "timeout", f"timed out ({exc})") from exc
    except httpx.TransportError as exc:
        raise ServiceCallError(service, None, "unreachable", f"unreachable ({exc})") from exc


@dataclass(frozen=True, slots=True)
class _Request(Generic[M]):
    """One call to one endpoint: what is sent, and how the answer's JSON is read into `M`.

    Built by an endpoint table and sent unchanged by the async or the sync client.
    `checked=False` reads any status's JSON as the answer (`/readyz` says why in a 503).
    """

    method: str
    path: str
    read: Callable[[Any], M]
    params: dict[str, Any] | None = None
    body: BaseModel | dict[str, Any] | None = None
    checked: bool = True

    def build(self, client: httpx.Client | httpx.AsyncClient, token: str) -> httpx.Request:
        body = self.body.model_dump(mode="json") if isinstance(self.body, BaseModel) else self.body
        return client.build_request(
            self.method, self.path, params=self.params, json=body, headers=_headers(token)
        )

    def answer(self, service: str, response: httpx.Response) -> M:
        if self.checked:
            _raise_for(service, response)
        return self.read(response.json())


def _as_is(data: dict[str, Any]) -> dict[str, Any]:
    return data


def _down(exc: ServiceCallError) -> dict[str, Any]:
    """`ready()` of a service that did not answer: down, with the transport's reason."""
    cause = exc.__cause__
    return {"status": "down", "reason": str(cause) or type(cause).__name__}


_READY: _Request[dict[str, Any]] = _Request("GET", "/readyz", _as_is, checked=False)


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

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, request: _Request[M]) -> M:
        with _transport_errors(self.service):
            response = await self._client.send(request.build(self._client, self.token))
        return request.answer(self.service, response)

    async def ready(self) -> dict[str, Any]:
        try:
            return await self._send(_READY)
        except ServiceCallError as exc:
            return _down(exc)


class _SyncBase(_Base):
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        super().__init__(base_url, token, timeout=timeout)
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request: _Request[M]) -> M:
        with _transport_errors(self.service):
            response = self._client.send(request.build(self._client, self.token))
        return request.answer(self.service, response)

    def ready(self) -> dict[str, Any]:
        try:
            return self._send(_READY)
        except ServiceCallError as exc:
            return _down(exc)


_POSITIONS = TypeAdapter(list[Position])
_QUOTES = TypeAdapter(list[Quote])
_ORDERS = TypeAdapter(list[Order])
_FILLS = TypeAdapter(list[Fill])


class _Bridge:
    """The gateway bridge's endpoints, each defined once for both bridge clients."""

    @staticmethod
    def status() -> _Request[ConnectionStatus]:
        return _Request("GET", "/v1/status", ConnectionStatus.model_validate)

    @staticmethod
    def account() -> _Request[Account]:
        return _Request("GET", "/v1/account", Account.model_validate)

    @staticmethod
    def positions() -> _Request[list[Position]]:
        return _Request("GET", "/v1/positions", _POSITIONS.validate_python)

    @staticmethod
    def quotes(symbols: list[str]) -> _Request[list[Quote]]:
        params = {"symbols": ",".join(symbols)}
        return _Request("GET", "/v1/quotes", _QUOTES.validate_python, params=params)

    @staticmethod
    def stock(symbol: str) -> _Request[StockInfo]:
        return _Request("GET", f"/v1/stocks/{symbol}", StockInfo.model_validate)

    @staticmethod
    def history(symbol: str, days: int, iv: bool) -> _Request[History]:
        params: dict[str, Any] = {"days": days}
        if iv:
            params["iv"] = "true"
        return _Request(
            "GET", f"/v1/stocks/{symbol}/history", History.model_validate, params=params
        )

    @staticmethod
    def chain(
        symbol: str,
        right: str | None,
        dte_min: int | None,
        dte_max: int | None,
        delta_min: float | None,
        delta_max: float | None,
        strikes: int | None,
    ) -> _Request[Chain]:
        """Only the filters given go into the query; the bridge has its own defaults."""
        filters = {
            "right": right,
            "dte_min": dte_min,
            "dte_max": dte_max,
            "delta_min": delta_min,
            "delta_max": delta_max,
            "strikes": strikes,
        }
        params = {k: v for k, v in filters.items() if v is not None}
        return _Request("GET", f"/v1/chains/{symbol}", Chain.model_validate, params=params)

    @staticmethod
    def chain_expirations(symbol: str) -> _Request[ChainExpirations]:
        return _Request("GET", f"/v1/chains/{symbol}/expirations", ChainExpirations.model_validate)

    @staticmethod
    def preview(request: OrderRequest) -> _Request[OrderPreview]:
        return _Request("POST", "/v1/orders/preview", OrderPreview.model_validate, body=request)

    @staticmethod
    def place(request: OrderRequest) -> _Request[Order]:
        """Idempotent by the request's `client_order_id`, so a lost answer can be re-placed."""
        return _Request("POST", "/v1/orders", Order.model_validate, body=request)

    @staticmethod
    def preview_combo(request: ComboOrderRequest) -> _Request[ComboPreview]:
        return _Request(
            "POST", "/v1/orders/combo/preview", ComboPreview.model_validate, body=request
        )

    @staticmethod
    def place_combo(request: ComboOrderRequest) -> _Request[Order]:
        return _Request("POST", "/v1/orders/combo", Order.model_validate, body=request)

    @staticmethod
    def modify(order_id: int | str, body: OrderModify) -> _Request[Order]:
        return _Request("POST", f"/v1/orders/{order_id}/modify", Order.model_validate, body=body)

    @staticmethod
    def orders() -> _Request[list[Order]]:
        return _Request("GET", "/v1/orders", _ORDERS.validate_python)

    @staticmethod
    def order(order_id: int | str) -> _Request[Order]:
        return _Request("GET", f"/v1/orders/{order_id}", Order.model_validate)

    @staticmethod
    def cancel(order_id: int | str) -> _Request[Order]:
        return _Request("DELETE", f"/v1/orders/{order_id}", Order.model_validate)

    @staticmethod
    def executions(since: date | None) -> _Request[list[Fill]]:
        params = {"since": since.isoformat()} if since else {}
        return _Request("GET", "/v1/executions", _FILLS.validate_python, params=params)

    @staticmethod
    def subscriptions() -> _Request[Subscriptions]:
        return _Request("GET", "/v1/subscriptions", Subscriptions.model_validate)

    @staticmethod
    def subscribe(symbols: list[str]) -> _Request[Subscriptions]:
        body = {"symbols": symbols}
        return _Request("POST", "/v1/subscriptions", Subscriptions.model_validate, body=body)

    @staticmethod
    def scanner_parameters() -> _Request[ScannerParameters]:
        return _Request("GET", "/v1/scanner/parameters", ScannerParameters.model_validate)

    @staticmethod
    def run_scanner(request: MarketScanRequest) -> _Request[MarketScanResult]:
        return _Request("POST", "/v1/scanner/run", MarketScanResult.model_validate, body=request)


class BridgeClient(_AsyncBase):
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
        filters = (right, dte_min, dte_max, delta_min, delta_max, strikes)
        return await self._send(_Bridge.chain(symbol, *filters))

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


class SyncBridgeClient(_SyncBase):
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
        filters = (right, dte_min, dte_max, delta_min, delta_max, strikes)
        return self._send(_Bridge.chain(symbol, *filters))

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


def _scan_answer(body: Any) -> ScanResult | ScanJob:
    """`POST /v1/scans`: the result of a small scan, or (over 200 symbols) a job to poll."""
    if "signals" in body:
        return ScanResult.model_validate(body)
    return ScanJob.model_validate(body)


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


class _Screener:
    """The screener's endpoints, each defined once for both screener clients."""

    @staticmethod
    def scan(request: ScanRequest, job: bool = False) -> _Request[ScanResult | ScanJob]:
        params = {"job": "true"} if job else None
        return _Request("POST", "/v1/scans", _scan_answer, body=request, params=params)

    @staticmethod
    def price(request: PriceRequest) -> _Request[PriceResponse]:
        return _Request("POST", "/v1/price", PriceResponse.model_validate, body=request)

    @staticmethod
    def scan_job(scan_id: str) -> _Request[ScanJob]:
        return _Request("GET", f"/v1/scans/{scan_id}", ScanJob.model_validate)


class ScreenerClient(_AsyncBase):
    service = "screener"

    async def scan(self, request: ScanRequest, *, poll_seconds: float = 1.0) -> ScanResult:
        """Run a scan; over 200 symbols the screener answers with a job, polled to its end."""
        job = await self._send(_Screener.scan(request))
        if isinstance(job, ScanResult):
            return job
        while job.status == "running":
            await asyncio.sleep(poll_seconds)
            job = await self.scan_job(job.scan_id)
        return _job_result(job)

    async def price(self, request: PriceRequest) -> PriceResponse:
        return await self._send(_Screener.price(request))

    async def scan_job(self, scan_id: str) -> ScanJob:
        """A scan of over 200 symbols runs as a job: poll it until `status != "running"`."""
        return await self._send(_Screener.scan_job(scan_id))


class SyncScreenerClient(_SyncBase):
    service = "screener"

    def scan(
        self,
        request: ScanRequest,
        *,
        poll_seconds: float = 1.0,
        on_progress: Callable[[ScanJob], None] | None = None,
    ) -> ScanResult:
        """Run a scan; over 200 symbols the screener answers with a job, polled to its end.

        With `on_progress`, the scan always runs as a job and each poll's ScanJob
        (`symbols_done`, `last_symbol`) is handed to it: a page can name symbols as they finish.
        """
        job = self._send(_Screener.scan(request, job=on_progress is not None))
        if isinstance(job, ScanResult):
            return job
        while job.status == "running":
            if on_progress is not None:
                on_progress(job)
            time.sleep(poll_seconds)
            job = self.scan_job(job.scan_id)
        return _job_result(job)

    def price(self, request: PriceRequest) -> PriceResponse:
        return self._send(_Screener.price(request))

    def scan_job(self, scan_id: str) -> ScanJob:
        """A scan of over 200 symbols runs as a job: poll it until `status != "running"`."""
        return self._send(_Screener.scan_job(scan_id))


class _Notifier:
    """The notifier's endpoints, each defined once for both notifier clients."""

    @staticmethod
    def send(request: EmailRequest) -> _Request[EmailAccepted]:
        """Idempotent by the request's `idempotency_key` (a repeat answers `duplicate`)."""
        return _Request("POST", "/v1/emails", EmailAccepted.model_validate, body=request)

    @staticmethod
    def status(email_id: str) -> _Request[EmailStatus]:
        return _Request("GET", f"/v1/emails/{email_id}", EmailStatus.model_validate)


class NotifierClient(_AsyncBase):
    service = "notifier"

    async def send(self, request: EmailRequest) -> EmailAccepted:
        return await self._send(_Notifier.send(request))

    async def status(self, email_id: str) -> EmailStatus:
        return await self._send(_Notifier.status(email_id))


class SyncNotifierClient(_SyncBase):
    service = "notifier"

    def send(self, request: EmailRequest) -> EmailAccepted:
        return self._send(_Notifier.send(request))

    def status(self, email_id: str) -> EmailStatus:
        return self._send(_Notifier.status(email_id))
