"""The streamed set outlives the bridge: restarted while IB Gateway is down too (its nightly
restart), the bridge reads the set back from NATS at once and streams it when IB returns, with
no request from the web, on the same number of lines as before."""

from __future__ import annotations

from typing import Any

from bridge_helpers import api, bridge_env, client, ctl, wait_for
from wheeldesk_testing.procs import Proc


def subscriptions(bridge: Proc) -> dict[str, Any]:
    response = api(bridge, "GET", "/v1/subscriptions")
    response.raise_for_status()
    return response.json()


def test_a_bridge_restarted_while_the_gateway_is_down_streams_its_set_when_ib_returns(
    tws_sim_factory: Any, service_factory: Any, nats_server: Proc
) -> None:
    sim = tws_sim_factory()
    bridge = service_factory("gateway-bridge", env=bridge_env(sim, nats_server.url))  # type: ignore[attr-defined]
    client(bridge).subscribe(["AAPL", "KO"])
    before = subscriptions(bridge)
    assert (before["streaming"], before["stream_lines"]) == (["AAPL", "KO"], 2)

    bridge.stop()
    ctl(sim, "/control/restart", {"down_seconds": 20})
    bridge.start(wait=False)
    restored = wait_for(
        lambda: subscriptions(bridge)["symbols"] == ["AAPL", "KO"] and subscriptions(bridge),
        30,
        "the set read back from NATS",
    )
    # Read back while IB is still down: wanted, not yet streaming.
    assert api(bridge, "GET", "/readyz").status_code == 503
    assert restored["streaming"] == []

    after = wait_for(
        lambda: subscriptions(bridge)["streaming"] == ["AAPL", "KO"] and subscriptions(bridge),
        90,
        "streams again once IB is back",
    )
    assert after["stream_lines"] == 2 and after["errors"] == {}
