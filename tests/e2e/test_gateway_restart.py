"""IB Gateway's nightly restart (tws-sim drops everyone and refuses connections for a while)
while a browser streams prices and a scan runs: the browser is told, then gets live prices
again without a reload; the scan answers (complete, or a clear error), never a 5xx.
"""

from __future__ import annotations

import threading

import httpx
import pytest
from wheeldesk.testing.e2e import SSEReader, login, ready, wait_until
from wheeldesk.testing.stack import Stack

pytestmark = pytest.mark.slow

DOWN_SECONDS = 6


def test_nightly_restart_banner_then_live_prices_and_scan_answers(fault_stack: Stack) -> None:
    stack = fault_stack
    headers = {"Authorization": f"Bearer {stack.env['INTERNAL_API_TOKEN']}"}
    subscribed = httpx.post(
        f"{stack.bridge_url}/v1/subscriptions",
        json={"symbols": ["KO"]},
        headers=headers,
        timeout=30,
    )
    assert subscribed.status_code == 200, subscribed.text
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
