"""The live hub: one NATS subscription fanned out to browsers, against a real nats-server."""

from __future__ import annotations

import asyncio

import nats
from wheeldesk import subjects
from wheeldesk.schemas.common import DataType
from wheeldesk.schemas.connection import ConnectionEvent
from wheeldesk.schemas.market import QuoteEvent
from wheeldesk_web.live.hub import Hub
from wheeldesk_web.live.views import parse_symbols, sse


async def _wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def test_quotes_and_connection_state_reach_only_the_streams_that_want_them(
    nats_server,
) -> None:
    hub = Hub(nats_server.url)
    hub.start()
    ko = hub.register(frozenset({"KO"}))
    pep = hub.register(frozenset({"PEP"}))
    await _wait_for(lambda: hub._nc is not None and hub._nc.is_connected)
    await hub._nc.flush()
    publisher = await nats.connect(nats_server.url)
    try:
        await publisher.publish(subjects.quote("KO"), b"{not json")  # skipped, not fatal
        quote = QuoteEvent(symbol="KO", last=61.23, market_data_type=DataType.DELAYED)
        await publisher.publish(subjects.quote("KO"), quote.model_dump_json().encode())
        await asyncio.wait_for(ko.wake.wait(), 10)
        html = ko.pending["quote-KO"]
        assert "61.23" in html and "delayed" in html and "data-age-of" in html
        assert not pep.pending

        down = ConnectionEvent(connected=False, state="disconnected", reason="socket closed")
        await publisher.publish(subjects.CONNECTION, down.model_dump_json().encode())
        await _wait_for(lambda: "ibkr-banner" in pep.pending)
        assert "IBKR disconnected" in pep.pending["ibkr-banner"]
        assert "socket closed" in pep.pending["ibkr-banner"]
        assert "IBKR disconnected" in hub.connection["ibkr-banner"]  # new streams get it at once
    finally:
        await publisher.close()
        await hub._nc.close()


def test_sse_framing_and_symbol_parsing() -> None:
    assert (
        sse("quote-KO", "<b>1</b>\n<i>2</i>")
        == "event: quote-KO\ndata: <b>1</b>\ndata: <i>2</i>\n\n"
    )
    assert parse_symbols("ko, PEP,,<script>,brk.b") == frozenset({"KO", "PEP", "BRK.B"})
