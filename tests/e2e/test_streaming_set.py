"""The streaming set on the whole stack: the web writes it when the watchlist changes, the
bridge owns it (a NATS KeyValue entry) and streams the same symbols again after its own
restart with no page view; removing the ticker stops its stream. The ticker's stock row, which
the watchlist hands to market through `watchlist.hooks`, is stored and shown on the list.

Pages only read: the bridge's set is looked at through its API and the bus, never by opening
a web page after the restart.
"""

from __future__ import annotations

import asyncio
import json
import re

import nats
import pytest
from wheeldesk import subjects
from wheeldesk_testing.e2e import login, wait_until
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.web_state import WebState

pytestmark = pytest.mark.slow

SYMBOL = "CVX"  # used by no other test on this stack, held by no demo position


def streaming(stack: Stack) -> list[str]:
    return stack.bridge_get("/v1/subscriptions")["streaming"]


def persisted(stack: Stack) -> list[str]:
    """The set as the bridge stored it on NATS (read with the test's all-permission user)."""

    async def read() -> list[str]:
        nc = await nats.connect(stack.nats_url)
        try:
            kv = await nc.jetstream().key_value(subjects.KV_STREAMING)
            entry = await kv.get(
                subjects.streaming_key(int(stack.bridge.env.get("IB_CLIENT_ID", "17")))
            )
            return json.loads(entry.value or b"[]")
        finally:
            await nc.close()

    return asyncio.run(read())


def test_a_watchlist_ticker_streams_across_a_bridge_restart_and_stops_when_removed(
    fault_stack: Stack,
) -> None:
    stack = fault_stack
    client = login(stack)
    page = client.get("/watchlist/")
    assert page.status_code == 200
    pk = int(re.search(r'action="/watchlist/(\d+)/add/"', page.text).group(1))  # type: ignore[union-attr]
    token = client.cookies["csrftoken"]
    headers = {"Referer": f"{stack.web_url}/watchlist/"}
    web = WebState(stack)
    assert web.stock_name(SYMBOL) is None
    added = client.post(
        f"/watchlist/{pk}/add/",
        data={"symbol": SYMBOL, "notes": "", "csrfmiddlewaretoken": token},
        headers=headers,
    )
    assert added.status_code == 302, added.text[:500]
    # IBKR's answer to the check is stored by market (watchlist.hooks) and shown on the list
    assert web.stock_name(SYMBOL) == "Chevron Corp"
    assert "Chevron Corp" in client.get(f"/watchlist/?list={pk}").text
    wait_until(lambda: SYMBOL in streaming(stack), 30, f"the bridge streaming {SYMBOL}")
    wanted = stack.bridge_get("/v1/subscriptions")["symbols"]
    assert SYMBOL in wanted
    wait_until(lambda: persisted(stack) == wanted, 30, "the set persisted on NATS")

    stack.bridge.restart()
    # No web request from here until the removal: the bridge restores the set by itself.
    assert wait_until(
        lambda: stack.bridge_get("/v1/subscriptions")["symbols"] == wanted, 60, "set restored"
    )
    # the bridge reopens the lines one by one: wait for the whole set, not the first of it
    wait_until(
        lambda: sorted(streaming(stack)) == sorted(wanted), 60, f"{wanted} all streaming again"
    )
    assert SYMBOL in streaming(stack)

    item = web.watchlist_item(pk, SYMBOL)
    assert item is not None
    removed = client.post(
        f"/watchlist/{pk}/items/{item}/remove/",
        data={"csrfmiddlewaretoken": token},
        headers=headers,
    )
    assert removed.status_code == 302, removed.text[:500]
    wait_until(lambda: SYMBOL not in streaming(stack), 30, f"{SYMBOL} no longer streaming")
    assert SYMBOL not in stack.bridge_get("/v1/subscriptions")["symbols"]
    wait_until(lambda: SYMBOL not in persisted(stack), 30, "the removal persisted")
