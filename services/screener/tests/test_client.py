"""The shared ScreenerClient against the real screener process: a job is polled to its end."""

from __future__ import annotations

import pytest
from wheeldesk.clients import ServiceCallError, SyncScreenerClient
from wheeldesk.schemas.market import Quote
from wheeldesk.schemas.screener import ScanRequest, SymbolData
from wheeldesk_testing.moments import SIM_START
from wheeldesk_testing.procs import free_port


@pytest.fixture
def screener(service_factory):  # type: ignore[no-untyped-def]
    closed = f"127.0.0.1:{free_port()}"
    return service_factory(
        "screener", env={"BRIDGE_URL": f"http://{closed}", "NATS_URL": f"nats://{closed}"}
    )


def test_client_polls_a_big_scan_and_reports_a_down_bridge(screener, internal_token) -> None:  # type: ignore[no-untyped-def]
    symbols = [f"S{i:03d}" for i in range(250)]
    data = [SymbolData(symbol=s, quote=Quote(symbol=s, last=50.0, ts=SIM_START)) for s in symbols]
    with SyncScreenerClient(screener.url, internal_token, timeout=30) as client:
        result = client.scan(
            ScanRequest(now=SIM_START, symbols=symbols, data=data), poll_seconds=0.05
        )
        assert result.symbols == symbols
        assert len(result.rejections) == 250  # no chains given: "no_contracts" for each
        # small scan needing the (down) bridge: 503 with the reason
        with pytest.raises(ServiceCallError) as small:
            client.scan(ScanRequest(symbols=["KO"]))
        assert small.value.status == 503 and small.value.code == "bridge_unavailable"
        # a job needing the (down) bridge fails the same way
        with pytest.raises(ServiceCallError) as big:
            client.scan(ScanRequest(symbols=symbols), poll_seconds=0.05)
        assert big.value.status == 503 and "gateway-bridge" in big.value.message
