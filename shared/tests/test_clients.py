"""Every client endpoint says and reads the same through the async and the sync client.

Both clients talk to a real HTTP service (`echo_service.py`, built with `create_app`, run as
its own process) that answers what each test scripts and records what it was asked: the
method, path, query, body, bearer token and request id. Each endpoint's expected request is
spelt out in `client_endpoints.py`, independently of the clients' own endpoint tables.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_endpoints import (
    CHAIN,
    EMAIL,
    EMAIL_STATUS,
    ENDPOINTS,
    PRICE_REQUEST,
    SCAN_REQUEST,
    SCAN_RESULT,
    STATUS,
)
from pydantic import BaseModel
from wheeldesk.clients import (
    BridgeClient,
    NotifierClient,
    ScreenerClient,
    ServiceCallError,
    SyncBridgeClient,
    SyncNotifierClient,
    SyncScreenerClient,
)
from wheeldesk.logs import request_id_var
from wheeldesk.schemas.screener import ScanJob
from wheeldesk_testing.procs import TEST_TOKEN, Proc, free_port

CLIENTS: dict[str, tuple[type, type]] = {
    "bridge": (SyncBridgeClient, BridgeClient),
    "screener": (SyncScreenerClient, ScreenerClient),
    "notifier": (SyncNotifierClient, NotifierClient),
}


def _json(model: BaseModel | list[Any]) -> Any:
    if isinstance(model, list):
        return [m.model_dump(mode="json") for m in model]
    return model.model_dump(mode="json")


def _ok(answer: BaseModel | list[Any], status: int = 200) -> dict[str, Any]:
    return {"status": status, "json": _json(answer)}


@pytest.fixture(scope="module")
def echo() -> Iterator[Proc]:
    port = free_port()
    proc = Proc(
        "echo",
        [sys.executable, str(Path(__file__).with_name("echo_service.py")), str(port), TEST_TOKEN],
        port=port,
        ready_url=f"http://127.0.0.1:{port}/healthz",
    )
    proc.start()
    yield proc
    proc.stop()


@dataclass
class Outcome:
    """What one client returned (or raised) and what the service was asked."""

    value: Any
    seen: list[dict[str, Any]]


def _script(echo: Proc, answers: list[dict[str, Any]], not_ready: str | None = None) -> None:
    auth = {"Authorization": f"Bearer {TEST_TOKEN}"}
    body = {"answers": answers, "not_ready": not_ready}
    httpx.put(f"{echo.url}/_script", json=body, headers=auth).raise_for_status()


def _seen(echo: Proc) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {TEST_TOKEN}"}
    return httpx.get(f"{echo.url}/_seen", headers=auth).json()


def both(
    echo: Proc,
    service: str,
    call: Callable[[Any], Any],
    answers: list[dict[str, Any]],
    *,
    url: str | None = None,
    token: str = TEST_TOKEN,
    timeout: float = 10.0,
    not_ready: str | None = None,
) -> tuple[Outcome, Outcome]:
    """Make `call` through the sync then the async client, each against the same script."""
    sync_cls, async_cls = CLIENTS[service]
    base = url or echo.url

    _script(echo, answers, not_ready)
    with sync_cls(base, token, timeout=timeout) as client:
        try:
            sync_value = call(client)
        except ServiceCallError as exc:
            sync_value = exc
    sync = Outcome(sync_value, _seen(echo))

    async def run() -> Any:
        async with async_cls(base, token, timeout=timeout) as client:
            try:
                return await call(client)
            except ServiceCallError as exc:
                return exc

    _script(echo, answers, not_ready)
    async_value = asyncio.run(run())
    return sync, Outcome(async_value, _seen(echo))


def _request(seen: dict[str, Any]) -> tuple[str, str, list[list[str]], Any]:
    return seen["method"], seen["path"], seen["query"], seen["json"]


def _without_id(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if k != "request_id"} for s in seen]


def _assert_error(
    exc: Any,
    service: str,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    retry_after: float | None = None,
) -> None:
    """The `ServiceCallError` a caller sees for an error answer, field by field."""
    assert isinstance(exc, ServiceCallError), exc
    assert (exc.service, exc.status, exc.code, exc.message) == (service, status, code, message)
    assert (exc.field, exc.retry_after, str(exc)) == (field, retry_after, f"{service}: {message}")


def _assert_no_answer(exc: Any, service: str, code: str) -> None:
    """The service did not answer: no status, `unavailable`, the transport's words after it."""
    assert isinstance(exc, ServiceCallError), exc
    assert (exc.service, exc.status, exc.code, exc.unavailable) == (service, None, code, True)
    words = {"timeout": "timed out (", "unreachable": "unreachable ("}[code]
    assert exc.message.startswith(words) and str(exc) == f"{service}: {exc.message}"
    assert isinstance(exc.__cause__, httpx.TransportError)


@pytest.mark.parametrize(
    ("service", "call", "answer", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in ENDPOINTS],
)
def test_endpoint_is_the_same_through_sync_and_async(
    echo: Proc, service: str, call: Callable[[Any], Any], answer: Any, expected: tuple[Any, ...]
) -> None:
    sync, async_ = both(echo, service, call, [_ok(answer, 202 if service == "notifier" else 200)])
    for outcome in (sync, async_):
        assert outcome.value == answer
        if isinstance(answer, list):
            assert [type(v) for v in outcome.value] == [type(a) for a in answer]
        else:
            assert type(outcome.value) is type(answer)
        assert len(outcome.seen) == 1
        seen = outcome.seen[0]
        assert _request(seen) == expected
        assert seen["authorization"] == f"Bearer {TEST_TOKEN}"
        assert re.fullmatch(r"[0-9a-f]{32}", seen["request_id"])
    assert _without_id(sync.seen) == _without_id(async_.seen)


ERRORS = [
    pytest.param(
        {"status": 422, "json": {"code": "invalid", "message": "symbol: bad", "field": "symbol"}},
        (422, "invalid", "symbol: bad", "symbol", None, False),
        id="422-field",
    ),
    pytest.param(
        {
            "status": 503,
            "json": {"code": "ib_disconnected", "message": "IB Gateway is not connected"},
            "headers": {"Retry-After": "2.5"},
        },
        (503, "ib_disconnected", "IB Gateway is not connected", None, 2.5, True),
        id="503-retry-after",
    ),
    pytest.param(
        {
            "status": 429,
            "json": {"code": "rate_limited", "message": "slow down"},
            "headers": {"Retry-After": "Wed, 26 Nov 2026 23:00:00 GMT"},
        },
        (429, "rate_limited", "slow down", None, None, False),
        id="429-retry-after-date",
    ),
    pytest.param(
        {"status": 500, "text": "boom"},
        (500, "http_error", "boom", None, None, False),
        id="500-text",
    ),
    pytest.param(
        {"status": 400, "json": ["not", "an", "object"]},
        (400, "http_error", '["not","an","object"]', None, None, False),
        id="400-list",
    ),
    pytest.param(
        {"status": 502, "json": {"message": "bad gateway"}},
        (502, "http_error", "bad gateway", None, None, True),
        id="502-no-code",
    ),
]


@pytest.mark.parametrize(("answer", "expected"), ERRORS)
@pytest.mark.parametrize(
    ("service", "name", "call"),
    [
        ("bridge", "gateway-bridge", lambda c: c.cancel(7)),
        ("screener", "screener", lambda c: c.price(PRICE_REQUEST)),
        ("notifier", "notifier", lambda c: c.send(EMAIL)),
    ],
    ids=["bridge", "screener", "notifier"],
)
def test_error_answer_is_the_same_service_call_error(
    echo: Proc,
    service: str,
    name: str,
    call: Callable[[Any], Any],
    answer: dict[str, Any],
    expected: tuple[Any, ...],
) -> None:
    sync, async_ = both(echo, service, call, [answer])
    status, code, message, field, retry_after, unavailable = expected
    for outcome in (sync, async_):
        _assert_error(outcome.value, name, status, code, message, field, retry_after)
        assert outcome.value.unavailable is unavailable
    assert _without_id(sync.seen) == _without_id(async_.seen)


def test_chain_filters_are_sent_in_their_order_and_a_misspelt_one_is_refused(echo: Proc) -> None:
    """Both clients take the chain's filters as one declared set (`ChainFilters`): named in any
    order they make the same query, and a misspelt one fails as a wrong keyword does instead
    of reaching the bridge."""
    call = lambda c: c.chain("KO", strikes=5, right="P")  # noqa: E731
    sync, async_ = both(echo, "bridge", call, [_ok(CHAIN)])
    for outcome in (sync, async_):
        query = [["right", "P"], ["strikes", "5"]]
        assert [_request(seen) for seen in outcome.seen] == [("GET", "/v1/chains/KO", query, None)]

    async def misspelt() -> None:
        async with BridgeClient(echo.url, TEST_TOKEN) as client:
            await client.chain("KO", dte=30)  # type: ignore[call-arg]

    _script(echo, [])
    with SyncBridgeClient(echo.url, TEST_TOKEN) as client, pytest.raises(TypeError, match="'dte'"):
        client.chain("KO", dte=30)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'dte'"):
        asyncio.run(misspelt())
    assert _seen(echo) == []


def test_wrong_token_is_the_service_401(echo: Proc) -> None:
    sync, async_ = both(echo, "bridge", lambda c: c.status(), [], token="not-the-token")
    for outcome in (sync, async_):
        message = "missing or invalid bearer token"
        _assert_error(outcome.value, "gateway-bridge", 401, "unauthorized", message)
        assert outcome.seen == []  # refused before the route


def test_request_id_of_the_caller_is_passed_on(echo: Proc) -> None:
    rid = request_id_var.set("rid-client-test-1")
    try:
        sync, async_ = both(echo, "notifier", lambda c: c.status("em-1"), [_ok(EMAIL_STATUS)])
    finally:
        request_id_var.reset(rid)
    assert sync.seen[0]["request_id"] == async_.seen[0]["request_id"] == "rid-client-test-1"


def test_slow_service_is_a_timeout(echo: Proc) -> None:
    # the service answers only after 3 s; the clients give up after 0.3 s
    slow = {"status": 200, "json": _json(STATUS), "delay": 3}
    sync, async_ = both(echo, "bridge", lambda c: c.status(), [slow], timeout=0.3)
    for outcome in (sync, async_):
        _assert_no_answer(outcome.value, "gateway-bridge", "timeout")
        assert isinstance(outcome.value.__cause__, httpx.TimeoutException)


def test_closed_port_is_unreachable_and_ready_says_down(echo: Proc) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    sync, async_ = both(echo, "screener", lambda c: c.scan_job("scan-2"), [], url=closed)
    for outcome in (sync, async_):
        _assert_no_answer(outcome.value, "screener", "unreachable")
    sync, async_ = both(echo, "notifier", lambda c: c.ready(), [], url=closed)
    for outcome in (sync, async_):
        assert set(outcome.value) == {"status", "reason"}
        assert outcome.value["status"] == "down"
        assert outcome.value["reason"]


def test_ready_returns_the_services_readiness_as_it_is(echo: Proc) -> None:
    sync, async_ = both(echo, "bridge", lambda c: c.ready(), [])
    assert sync.value == async_.value == {"status": "ready", "service": "echo"}
    sync, async_ = both(echo, "bridge", lambda c: c.ready(), [], not_ready="IB not connected")
    expected = {
        "status": "not_ready",
        "service": "echo",
        "reason": "echo: IB not connected",
        "checks": {"echo": "IB not connected"},
    }
    assert sync.value == async_.value == expected  # a 503 here is an answer, not an error


def _job(status: str, done: int, **extra: Any) -> dict[str, Any]:
    job = ScanJob(scan_id="scan-2", status=status, symbols_total=250, symbols_done=done, **extra)  # type: ignore[arg-type]
    return _ok(job, 202 if status == "running" else 200)


def test_big_scan_is_polled_until_the_job_is_done(echo: Proc) -> None:
    answers = [_job("running", 0), _job("running", 120), _job("done", 250, result=SCAN_RESULT)]
    sync, async_ = both(
        echo, "screener", lambda c: c.scan(SCAN_REQUEST, poll_seconds=0.01), answers
    )
    for outcome in (sync, async_):
        assert outcome.value == SCAN_RESULT
        assert [_request(s) for s in outcome.seen] == [
            ("POST", "/v1/scans", [], SCAN_REQUEST.model_dump(mode="json")),
            ("GET", "/v1/scans/scan-2", [], None),
            ("GET", "/v1/scans/scan-2", [], None),
        ]
    assert _without_id(sync.seen) == _without_id(async_.seen)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            "gateway-bridge: unreachable (connection refused)",
            (503, "bridge_unavailable", "gateway-bridge: unreachable (connection refused)"),
        ),
        ("boom", (500, "scan_failed", "boom")),
        (None, (500, "scan_failed", "scan failed")),
    ],
    ids=["bridge-down", "failed", "no-result"],
)
def test_failed_scan_job_is_a_screener_error(
    echo: Proc, error: str | None, expected: tuple[Any, ...]
) -> None:
    status = "done" if error is None else "failed"
    answers = [_job("running", 10), _job(status, 10, error=error)]
    sync, async_ = both(
        echo, "screener", lambda c: c.scan(SCAN_REQUEST, poll_seconds=0.01), answers
    )
    code_status, code, message = expected
    for outcome in (sync, async_):
        _assert_error(outcome.value, "screener", code_status, code, message)
        assert len(outcome.seen) == 2
