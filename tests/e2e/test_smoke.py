"""The walking skeleton, end to end through every process.

tws-sim produces a stock quote → gateway-bridge (real ib_insync) publishes it on NATS →
web, logged in, pushes it to the browser over SSE; screener and notifier answer /readyz.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import nats
from wheeldesk.schemas.market import QuoteEvent
from wheeldesk_testing.e2e import login
from wheeldesk_testing.stack import Stack

# KO trades near $60 in the simulator; a price in the 700s can only come from our control call.
SET_PRICE = 777.0
SEEN = re.compile(r"\b7\d\d\.\d\d\b")


def test_every_service_is_ready(stack: Stack) -> None:
    for url in (stack.bridge_url, stack.screener_url, stack.notifier_url, stack.web_url):
        response = httpx.get(f"{url}/readyz", timeout=10)
        assert response.status_code == 200, f"{url}: {response.text}"
        assert response.json()["status"] == "ready"


def test_a_simulated_quote_reaches_nats_and_the_logged_in_browser(stack: Stack) -> None:
    client = login(stack)
    dashboard = client.get("/dashboard/")
    assert dashboard.status_code == 200
    assert "DU7654321" in dashboard.text

    # The bridge streams what it is asked to (the web asks for the watchlist and positions).
    stack.subscribe("KO")

    async def set_price_then_listen() -> QuoteEvent:
        nc = await nats.connect(stack.nats_url)
        try:
            sub = await nc.subscribe("ibkr.quote.KO")
            await nc.flush()  # the server holds the subscription: no quote from now on is missed
            await asyncio.to_thread(
                stack.control, "/control/price", {"symbol": "KO", "price": SET_PRICE}
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                msg = await sub.next_msg(timeout=deadline - time.monotonic())
                event = QuoteEvent.model_validate_json(msg.data)
                if event.price and event.price > 700:
                    return event
            raise AssertionError("no KO quote above 700 on NATS")
        finally:
            await nc.close()

    event = asyncio.run(set_price_then_listen())
    assert event.symbol == "KO"
    assert event.market_data_type is not None
    assert abs(event.price - SET_PRICE) < 5

    # …and the same number arrives in the browser's SSE stream, without a reload.
    found = None
    with client.stream("GET", "/live/stream", params={"symbols": "KO"}, timeout=30) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        deadline = time.monotonic() + 30
        event_name = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event_name = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event_name == "quote-KO" and SEEN.search(line):
                found = line
                break
            if time.monotonic() > deadline:
                break
    assert found, "the KO quote never reached the SSE stream"
    json.dumps(found)  # plain text, safe to log
