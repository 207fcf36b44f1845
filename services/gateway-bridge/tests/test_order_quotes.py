"""An order's quote, against tws-sim at SIM_START (Wed 10:30 ET, open): while the market is
open a preview takes the bid/ask from a streaming line's first ticks (IB answers those long
before a snapshot, which waits for the option model), cancelled at once; after the close
(tws-sim at AFTER_CLOSE) it asks a snapshot, as before. The preview shows the quote tws-sim
holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from bridge_helpers import api, bridge_env, client, ctl, wait_for
from wheeldesk_testing.moments import AFTER_CLOSE
from wheeldesk_testing.procs import Proc, service_proc, tws_sim_proc


@pytest.fixture(scope="module")
def closed_sim() -> Iterator[Proc]:
    proc = tws_sim_proc(start=AFTER_CLOSE).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def closed_bridge(closed_sim: Proc, nats_server: Proc) -> Iterator[Proc]:
    proc = service_proc("gateway-bridge", bridge_env(closed_sim, nats_server.url))  # type: ignore[attr-defined]
    proc.start(timeout=90)
    yield proc
    proc.stop()


def preview_body(q) -> dict:  # type: ignore[no-untyped-def]
    return {
        "client_order_id": f"wd-quote-{uuid.uuid4().hex[:12]}",
        "symbol": "KO",
        "expiry": q.contract.expiry.isoformat(),
        "strike": q.contract.strike,
        "right": "P",
        "action": "SELL",
        "quantity": 1,
        "limit_price": f"{q.bid:.2f}",
    }


def calendar_loaded(bridge: Proc, market_open: bool) -> None:
    """The bridge knows the market's state once its NYSE calendar is loaded (until then an
    order's quote is a snapshot, the way that works in every state)."""
    wait_for(
        lambda: client(bridge).status().market_open is market_open,
        what=f"market_open {market_open} in the bridge's status",
    )


def market_data(sim: Proc) -> dict:
    return ctl(sim, "/control/reset-counters", {})["market_data"]


def test_an_open_market_quote_is_a_streams_first_ticks(bridge: Proc, sim: Proc) -> None:
    ctl(sim, "/control/tick-rate", {"ms": 60_000})  # the quote holds still
    calendar_loaded(bridge, True)
    chain = client(bridge).chain("KO", right="P", dte_min=20, dte_max=45, strikes=4)
    q = next(o for o in chain.options if o.bid and o.ask)
    market_data(sim)
    r = api(bridge, "POST", "/v1/orders/preview", json=preview_body(q))
    assert r.status_code == 200, r.text
    assert (r.json()["bid"], r.json()["ask"]) == (q.bid, q.ask)
    used = market_data(sim)
    assert (used["streams"], used["snapshots"]) == (1, 0)


def test_after_the_close_an_orders_quote_is_a_snapshot(
    closed_bridge: Proc, closed_sim: Proc
) -> None:
    calendar_loaded(closed_bridge, False)
    chain = client(closed_bridge).chain("KO", right="P", dte_min=20, dte_max=45, strikes=4)
    q = next(o for o in chain.options if o.bid and o.ask)  # the session's last, frozen
    market_data(closed_sim)
    r = api(closed_bridge, "POST", "/v1/orders/preview", json=preview_body(q))
    assert r.status_code == 200, r.text
    used = market_data(closed_sim)
    assert (used["streams"], used["snapshots"]) == (0, 1)
