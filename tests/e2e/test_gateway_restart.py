"""IB Gateway's nightly restart (tws-sim drops everyone and refuses connections for a while)
while a browser streams prices and a scan runs: the browser is told, then gets live prices
again without a reload; the scan answers (complete, or a clear error), never a 5xx. And an
order that fills while the gateway is down reaches the web as an event afterwards.
"""

from __future__ import annotations

import threading

import httpx
import pytest
from wheeldesk_testing.e2e import (
    MARKET_CLOSED,
    SSEReader,
    login,
    ready,
    sell_put_from_web,
    sim_orders,
    start_worker,
    wait_until,
)
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.web_state import WebState

pytestmark = pytest.mark.slow

DOWN_SECONDS = 6


def test_nightly_restart_banner_then_live_prices_and_scan_answers(fault_stack: Stack) -> None:
    stack = fault_stack
    headers = {"Authorization": f"Bearer {stack.env['INTERNAL_API_TOKEN']}"}
    stack.subscribe("KO")
    client = login(stack)
    reader = SSEReader(client, "/live/stream", {"symbols": "KO"})
    scan: dict[str, httpx.Response | Exception] = {}

    def run_scan() -> None:
        try:
            scan["answer"] = httpx.post(
                f"{stack.screener_url}/v1/scans",
                json={"symbols": ["KO", "PEP", "JNJ", "PG", "WMT", "XOM"]},
                headers=headers,
                timeout=300,
            )
        except Exception as exc:
            scan["answer"] = exc

    try:
        wait_until(lambda: reader.status == 200, 30, "the SSE stream")
        stack.control("/control/price", {"symbol": "KO", "price": 811.0})
        wait_until(lambda: reader.seen("data-price>81"), 30, "a live price before the restart")
        scanner = threading.Thread(target=run_scan)
        scanner.start()
        stack.control("/control/restart", {"down_seconds": DOWN_SECONDS})
        wait_until(lambda: reader.seen("IBKR disconnected"), 60, "the disconnected banner")
        wait_until(lambda: ready(stack.bridge_url), 120, "the bridge reconnected")
        # A price set after the restart reaches the same open stream: streaming resumed.
        stack.control("/control/price", {"symbol": "KO", "price": 922.0})
        wait_until(lambda: reader.seen("data-price>92"), 90, "a live price after the restart")
        scanner.join(320)
        answer = scan["answer"]
        assert isinstance(answer, httpx.Response), f"scan raised {answer!r}"
        assert answer.status_code < 500 or answer.status_code == 503, answer.text[:500]
        if answer.status_code != 200:
            body = answer.json()
            assert body["code"] and body["message"], body
    finally:
        reader.close()
        client.close()


def _web_status(stack: Stack, coid: str) -> str:
    return WebState(stack).order_status(coid)


def _fills_via_nats(stack: Stack, coid: str) -> list[tuple[str]]:
    return [
        (e["exec_id"],)
        for e in WebState(stack).executions()
        if e["client_order_id"] == coid and e["source"] == "nats"
    ]


def test_an_order_filled_while_the_gateway_restarts_reaches_the_web_as_an_event(
    fault_stack: Stack,
) -> None:
    """No order event lost: the fill IB made during the outage arrives over JetStream.

    The worker runs with a closed-market clock, so only its NATS consumers can bring the
    fill in (no scheduled sync polling the bridge), and nobody opens the order's page.
    """
    stack = fault_stack
    worker = start_worker(stack, "--now", MARKET_CLOSED, "--tick", "5")
    client = login(stack)
    stack.control("/control/fill-mode", {"mode": "never"})
    try:
        coid = sell_put_from_web(client, stack, "JNJ")
        wait_until(lambda: sim_orders(stack, coid), 60, "the order at tws-sim")
        wait_until(lambda: _web_status(stack, coid) == "submitted", 60, "the order submitted")
        stack.control("/control/restart", {"down_seconds": DOWN_SECONDS})
        wait_until(lambda: not ready(stack.bridge_url), 60, "the bridge to see the gateway gone")
        # IB fills the working order while no API client is connected.
        stack.control("/control/fill-mode", {"mode": "immediate"})
        wait_until(
            lambda: sim_orders(stack, coid)[0]["status"] == "Filled", 30, "the fill at tws-sim"
        )
        wait_until(lambda: ready(stack.bridge_url), 120, "the bridge reconnected")
        wait_until(lambda: _fills_via_nats(stack, coid), 120, "the fill in the web's ledger")
        wait_until(lambda: _web_status(stack, coid) == "filled", 60, "the order filled")
        assert len(_fills_via_nats(stack, coid)) == 1
        assert worker.running
    finally:
        stack.control("/control/fill-mode", {"mode": "cross"})
        client.close()
        worker.stop()
