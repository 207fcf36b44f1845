"""How a Wheeldesk service calls another: the bearer token and request id on every call, one
timeout, an error answer or no answer turned into `ServiceCallError` with the service's own
`code` and message, and the two clients (async, sync) that send a `Call` the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

import httpx
from pydantic import BaseModel

from wheeldesk.logs import REQUEST_ID_HEADER, current_request_id, new_request_id

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
class Call(Generic[M]):
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


_READY: Call[dict[str, Any]] = Call("GET", "/readyz", _as_is, checked=False)


class _Base:
    service = "service"

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout


class AsyncServiceClient(_Base):
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        super().__init__(base_url, token, timeout=timeout)
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, request: Call[M]) -> M:
        with _transport_errors(self.service):
            response = await self._client.send(request.build(self._client, self.token))
        return request.answer(self.service, response)

    async def ready(self) -> dict[str, Any]:
        try:
            return await self._send(_READY)
        except ServiceCallError as exc:
            return _down(exc)


class SyncServiceClient(_Base):
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        super().__init__(base_url, token, timeout=timeout)
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request: Call[M]) -> M:
        with _transport_errors(self.service):
            response = self._client.send(request.build(self._client, self.token))
        return request.answer(self.service, response)

    def ready(self) -> dict[str, Any]:
        try:
            return self._send(_READY)
        except ServiceCallError as exc:
            return _down(exc)
