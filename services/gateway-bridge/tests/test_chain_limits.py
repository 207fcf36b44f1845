"""A chain request cannot take the whole market-data budget (issue 17.9).

`GET /v1/chains/KO` without filters used to quote every strike of every expiry in 0-60 days:
16 s holding all 100 lines, every stream and quote of every user queued behind it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bridge_helpers import api, bridge_env, metric
from wheeldesk_testing.procs import Proc, service_proc


@pytest.fixture(scope="module")
def narrow_bridge(tws_sim: Proc, nats_server: Proc) -> Iterator[Proc]:
    """A fresh bridge (its peak-lines gauge starts at 0) that lets one chain hold 4 lines."""
    env = bridge_env(tws_sim, nats_server.url, CHAIN_LINES_MAX="4")  # type: ignore[attr-defined]
    proc = service_proc("gateway-bridge", env).start(timeout=90)
    yield proc
    proc.stop()


def test_an_unfiltered_chain_is_refused_before_any_quote(narrow_bridge: Proc) -> None:
    before = metric(narrow_bridge, "wheeldesk_bridge_option_quotes_requested_total")
    r = api(narrow_bridge, "GET", "/v1/chains/KO")
    assert r.status_code == 422, r.text[:300]
    body = r.json()
    assert body["code"] == "chain_too_large" and body["field"] == "dte_max"
    assert "at most 300" in body["message"] and "strikes" in body["message"]
    assert metric(narrow_bridge, "wheeldesk_bridge_option_quotes_requested_total") == before


def test_a_chain_holds_at_most_chain_lines_max_lines(narrow_bridge: Proc) -> None:
    r = api(
        narrow_bridge,
        "GET",
        "/v1/chains/KO",
        params={"right": "P", "dte_min": 0, "dte_max": 45, "strikes": 6},
    )
    assert r.status_code == 200, r.text
    chain = r.json()
    assert chain["quotes_requested"] > 4 and len(chain["options"]) > 4
    assert 1 <= metric(narrow_bridge, "wheeldesk_bridge_lines_peak") <= 4
