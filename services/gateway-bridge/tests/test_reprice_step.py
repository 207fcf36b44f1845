"""The automatic re-price's step through the bridge, against tws-sim at SIM_START (quotes held
still): `{"step": ...}` moves a working sell down toward the bid on the contract's tick grid
as IB's modify of the same order, and stops at the bid (409 `at_market`), never through it.
The step's arithmetic is checked on its own at the end."""

from __future__ import annotations

import uuid

import pytest
from bridge_helpers import api, client, ctl, sell_at_ask
from gateway_bridge.repricing import step_limit
from wheeldesk.errors import ServiceError
from wheeldesk_testing.procs import Proc

PENNY_TO_3 = [(0.0, 0.01), (3.0, 0.05)]  # a penny-pilot option's grid


def test_steps_toward_the_bid_stop_at_the_bid(bridge: Proc, sim: Proc) -> None:
    ctl(sim, "/control/tick-rate", {"ms": 60_000})  # the quote holds still between steps
    ctl(sim, "/control/fill-mode", {"mode": "never"})
    c = client(bridge)
    chain = c.chain("KO", right="P", dte_min=20, dte_max=45, strikes=6)
    quoted = [o for o in chain.options if o.bid and o.ask and o.ask > o.bid]
    q = max(quoted, key=lambda o: (o.ask or 0) - (o.bid or 0))  # the widest: several steps
    req = sell_at_ask(q, f"wd-step-{uuid.uuid4().hex[:12]}")
    order = c.place(req)
    path = f"/v1/orders/{order.order_id}/modify"
    both = api(bridge, "POST", path, json={"limit_price": "1.00", "step": "0.05"})
    neither = api(bridge, "POST", path, json={})
    assert both.status_code == neither.status_code == 422
    limits = [q.ask]
    for _ in range(40):
        r = api(bridge, "POST", path, json={"step": "0.02"})
        if r.status_code == 409:
            assert r.json()["code"] == "at_market" and r.json()["field"] == "step"
            break
        assert r.status_code == 200, r.text
        assert r.json()["order_id"] == order.order_id  # the same order, modified
        limits.append(float(r.json()["request"]["limit_price"]))
    else:
        pytest.fail("never reached the bid")
    sim_order = next(
        o for o in ctl(sim, "/state/orders") if o.get("order_ref") == req.client_order_id
    )
    assert sim_order["lmt_price"] == pytest.approx(limits[-1]) == pytest.approx(q.bid)
    assert len(limits) >= 2 and limits == sorted(limits, reverse=True)
    assert len(set(limits)) == len(limits)
    assert all(x >= q.bid - 1e-9 for x in limits)  # never through the bid
    c.cancel(order.order_id)
    ctl(sim, "/control/fill-mode", {"mode": "cross"})


def test_step_arithmetic() -> None:
    assert step_limit(1.50, 0.05, "SELL", 1.00, 1.60, PENNY_TO_3) == 1.45
    assert step_limit(1.23, 0.05, "SELL", 1.20, 1.30, PENNY_TO_3) == 1.20  # held at the bid
    assert step_limit(2.98, 0.05, "BUY", 2.90, 3.10, PENNY_TO_3) == 3.05  # up onto 3's nickel
    assert step_limit(3.00, 0.50, "BUY", 2.90, 3.10, PENNY_TO_3) == 3.10  # held at the ask
    assert step_limit(3.33, 0.01, "SELL", 3.00, 3.40, PENNY_TO_3) == 3.30  # down onto the grid
    for current, action in ((1.20, "SELL"), (3.10, "BUY")):
        with pytest.raises(ServiceError) as at:
            step_limit(current, 0.05, action, 1.20, 3.10, PENNY_TO_3)
        assert at.value.status == 409 and at.value.code == "at_market"
    with pytest.raises(ServiceError) as none:
        step_limit(1.0, 0.05, "SELL", None, 1.2, PENNY_TO_3)
    assert none.value.status == 422 and none.value.field == "step"
