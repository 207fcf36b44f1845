"""A roll as ONE combo order through the bridge, against tws-sim (pinned at SIM_START, an open
market): preview with IB's what-if and a suggested net limit from the quote now, placement
idempotent by client_order_id, both legs' fills published on NATS under the same order id,
and refusals that name the field (unlisted leg, off-tick net limit). The pricing helpers'
arithmetic is checked on its own at the end."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from bridge_helpers import (
    Collector,
    api,
    await_until,
    bridge_env,
    client,
    ctl,
    sell_at_ask,
    wait_for,
)
from gateway_bridge.combos import natural_market, suggest_limit
from wheeldesk.clients import BridgeClient
from wheeldesk.schemas.orders import (
    ComboLeg,
    ComboOrderRequest,
    ComboPreview,
    ExecutionEvent,
    OrderEvent,
    OrderStatus,
)
from wheeldesk_testing.moments import SIM_START
from wheeldesk_testing.procs import TEST_TOKEN, Proc, service_proc, tws_sim_proc


@pytest.fixture(scope="module")
def combo_sim() -> Iterator[Proc]:
    """tws-sim of this module's own: the roll changes the account other tests read."""
    proc = tws_sim_proc().start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def combo_bridge(combo_sim: Proc, nats_server: Proc) -> Iterator[Proc]:
    env = bridge_env(combo_sim, nats_server.url, MAX_CONTRACTS_PER_ORDER="5")  # type: ignore[attr-defined]
    proc = service_proc("gateway-bridge", env).start(timeout=90)
    yield proc
    proc.stop()


def coid() -> str:
    return f"wd-roll-{uuid.uuid4().hex[:12]}"


def held_put(bridge: Proc) -> Any:
    [p] = [
        p
        for p in client(bridge).positions()
        if p.symbol == "AAPL" and p.sec_type == "OPT" and p.quantity < 0
    ]
    return p


def later_listed(bridge: Proc, held: Any) -> Any:
    """The held strike at the first listed expiry after the held one (from the chain)."""
    dte = (held.expiry - SIM_START.date()).days
    chain = client(bridge).chain("AAPL", right="P", dte_min=dte + 1, dte_max=dte + 40, strikes=10)
    later = sorted(
        (o for o in chain.options if o.contract.strike == held.strike),
        key=lambda o: o.contract.expiry,
    )
    assert later, "tws-sim lists the held strike at a later expiry"
    return later[0]


def roll_request(held: Any, new_expiry: date, limit: float | None, **kw: Any) -> ComboOrderRequest:
    return ComboOrderRequest(
        client_order_id=kw.pop("client_order_id", coid()),
        symbol="AAPL",
        legs=[
            ComboLeg(expiry=held.expiry, strike=held.strike, right="P", action="BUY"),
            ComboLeg(
                expiry=new_expiry,
                strike=kw.pop("new_strike", held.strike),
                right="P",
                action="SELL",
            ),
        ],
        action="BUY",
        quantity=1,
        limit_price=Decimal(f"{limit:.2f}") if limit is not None else None,
        **kw,
    )


def sim_orders(sim: Proc, ref: str) -> list[dict[str, Any]]:
    return [o for o in ctl(sim, "/state/orders") if o.get("order_ref") == ref]


def test_combo_preview_suggests_a_net_limit_inside_the_market(
    combo_bridge: Proc, combo_sim: Proc
) -> None:
    held = held_put(combo_bridge)
    new = later_listed(combo_bridge, held)
    req = roll_request(held, new.contract.expiry, None)
    r = api(combo_bridge, "POST", "/v1/orders/combo/preview", json=req.model_dump(mode="json"))
    assert r.status_code == 200, r.text
    preview = ComboPreview.model_validate(r.json())
    old_leg, new_leg = preview.legs
    assert (old_leg.action, new_leg.action) == ("BUY", "SELL")
    assert old_leg.con_id and new_leg.con_id and old_leg.con_id != new_leg.con_id
    # The combo's natural market in IB's convention: BUY the old put, SELL the new one.
    assert preview.bid == pytest.approx(old_leg.bid - new_leg.ask, abs=1e-4)
    assert preview.ask == pytest.approx(old_leg.ask - new_leg.bid, abs=1e-4)
    assert preview.ask < 0  # a later expiry of the same put: rolling takes in a credit
    s = preview.suggested_limit
    assert s is not None and preview.bid <= s <= preview.ask
    assert abs(s * 100 - round(s * 100)) < 1e-6  # on the combo's penny grid
    assert s >= preview.mid - 1e-9  # a buyer's suggestion rounds up, toward the ask
    # IB's what-if for the whole combo, run at the suggestion: two legs' commissions.
    assert preview.commission == pytest.approx(2.0)
    assert preview.init_margin_change is not None
    assert preview.warnings == []
    assert sim_orders(combo_sim, req.client_order_id) == []


def test_single_order_preview_suggests_a_limit_on_the_contracts_tick(combo_bridge: Proc) -> None:
    held = held_put(combo_bridge)
    new = later_listed(combo_bridge, held)
    req = sell_at_ask(new, coid())
    preview = client(combo_bridge).preview(req)
    assert preview.bid is not None and preview.ask is not None
    s = preview.suggested_limit
    assert s is not None and preview.bid <= s <= preview.ask
    assert s <= preview.mid + 1e-9  # a seller's suggestion rounds down, toward the bid
    tick = 0.05 if s >= 3 else 0.01  # AAPL: penny program ($0.01 under $3, $0.05 above)
    assert abs(s / tick - round(s / tick)) < 1e-6
    # Without a limit, IB's what-if runs at the suggestion (never at a placeholder)...
    bare = req.model_copy(update={"limit_price": None, "client_order_id": coid()})
    priced = client(combo_bridge).preview(bare)
    assert priced.suggested_limit is not None and priced.commission == pytest.approx(1.0)
    assert float(priced.request.limit_price) == priced.suggested_limit
    assert priced.warnings == []
    # ...but nothing is placed without one.
    r = api(combo_bridge, "POST", "/v1/orders", json=bare.model_dump(mode="json"))
    assert r.status_code == 422 and r.json()["field"] == "limit_price"


def test_unlisted_leg_and_off_tick_limit_are_refused_naming_the_field(
    combo_bridge: Proc, combo_sim: Proc
) -> None:
    held = held_put(combo_bridge)
    new = later_listed(combo_bridge, held)
    bad = roll_request(held, new.contract.expiry, -0.5, new_strike=held.strike + 0.5)
    r = api(combo_bridge, "POST", "/v1/orders/combo", json=bad.model_dump(mode="json"))
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "unknown_contract" and r.json()["field"] == "legs.1"
    r = api(combo_bridge, "POST", "/v1/orders/combo/preview", json=bad.model_dump(mode="json"))
    assert r.status_code == 404 and r.json()["field"] == "legs.1"
    off = roll_request(held, new.contract.expiry, None).model_dump(mode="json")
    off["limit_price"] = "-0.455"
    r = api(combo_bridge, "POST", "/v1/orders/combo", json=off)
    assert r.status_code == 422 and r.json()["field"] == "limit_price"
    no_limit = roll_request(held, new.contract.expiry, None)
    r = api(combo_bridge, "POST", "/v1/orders/combo", json=no_limit.model_dump(mode="json"))
    assert r.status_code == 422 and r.json()["field"] == "limit_price"
    same = roll_request(held, new.contract.expiry, -0.5).model_dump(mode="json")
    same["legs"][1]["expiry"] = same["legs"][0]["expiry"]
    r = api(combo_bridge, "POST", "/v1/orders/combo", json=same)
    assert r.status_code == 422
    for req in (bad, no_limit):
        assert sim_orders(combo_sim, req.client_order_id) == []


def test_reprice_a_working_order_is_a_modify_of_the_same_order(
    combo_bridge: Proc, combo_sim: Proc
) -> None:
    c = client(combo_bridge)
    chain = c.chain("AAPL", right="P", dte_min=20, dte_max=45, strikes=4)
    q = next(o for o in chain.options if o.bid and o.ask and o.ask > o.bid)
    ctl(combo_sim, "/control/fill-mode", {"mode": "never"})
    try:
        req = sell_at_ask(q, coid())
        order = c.place(req)
        tick = 0.05 if q.ask >= 3 else 0.01
        step = round(q.ask - tick, 2)  # one tick toward the bid
        r = api(
            combo_bridge,
            "POST",
            f"/v1/orders/{order.order_id}/modify",
            json={"limit_price": f"{step:.2f}"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["order_id"] == order.order_id
        assert float(r.json()["request"]["limit_price"]) == step
        [sim] = sim_orders(combo_sim, req.client_order_id)  # the same order, modified
        assert sim["lmt_price"] == pytest.approx(step) and sim["status"] == "Submitted"
        off = api(
            combo_bridge,
            "POST",
            f"/v1/orders/{order.order_id}/modify",
            json={"limit_price": f"{step + tick / 3:.4f}"},
        )
        assert off.status_code == 422 and off.json()["field"] == "limit_price"
        assert sim_orders(combo_sim, req.client_order_id)[0]["lmt_price"] == pytest.approx(step)
        c.cancel(order.order_id)
        done = api(
            combo_bridge,
            "POST",
            f"/v1/orders/{order.order_id}/modify",
            json={"limit_price": f"{step:.2f}"},
        )
        assert done.status_code == 409
    finally:
        ctl(combo_sim, "/control/fill-mode", {"mode": "cross"})


def test_a_working_combo_is_described_again_after_a_bridge_restart(
    combo_bridge: Proc, combo_sim: Proc
) -> None:
    """IB reports a combo's legs by conId only: after a restart the bridge looks them up and
    describes the working combo with its legs, as placed."""
    held = held_put(combo_bridge)
    new = later_listed(combo_bridge, held)
    ctl(combo_sim, "/control/fill-mode", {"mode": "never"})
    try:
        req = roll_request(held, new.contract.expiry, -5.0, force=True)  # far from the market
        order = client(combo_bridge).place_combo(req)
        assert order.status == OrderStatus.SUBMITTED
        combo_bridge.stop()
        combo_bridge.start(timeout=90)
        again = wait_for(
            lambda: (
                (r := api(combo_bridge, "GET", f"/v1/orders/{req.client_order_id}")).status_code
                == 200
                and r
            ),
            what="the combo after the restart (its legs looked up)",
        )
        body = again.json()
        assert body["order_id"] == order.order_id
        assert [(leg["expiry"], leg["action"]) for leg in body["request"]["legs"]] == [
            (held.expiry.isoformat(), "BUY"),
            (new.contract.expiry.isoformat(), "SELL"),
        ]
        assert float(body["request"]["limit_price"]) == -5.0
        c = client(combo_bridge)
        assert any(o.client_order_id == req.client_order_id for o in c.orders())
        assert c.cancel(order.order_id).status == OrderStatus.CANCELLED
    finally:
        ctl(combo_sim, "/control/fill-mode", {"mode": "cross"})


async def test_roll_fills_both_legs_as_one_order_with_events(
    combo_bridge: Proc, combo_sim: Proc, nats_server: Proc
) -> None:
    events = await Collector().start(nats_server.url)  # type: ignore[attr-defined]
    try:
        held = held_put(combo_bridge)
        new = later_listed(combo_bridge, held)
        c = client(combo_bridge)
        preview = c.preview_combo(roll_request(held, new.contract.expiry, None))
        assert preview.ask is not None
        # A marketable net: the natural ask plus a little slack (quotes move).
        req = roll_request(held, new.contract.expiry, preview.ask + 0.02)
        async with BridgeClient(combo_bridge.url, TEST_TOKEN, timeout=60) as bc:
            order = await bc.place_combo(req)
            assert isinstance(order.request, ComboOrderRequest)
            filled = await await_until(
                lambda: _filled(bc, order.order_id), what="combo filled", timeout=30
            )
        assert filled.filled == 1 and len(filled.fills) == 2
        assert {f.order_id for f in filled.fills} == {order.order_id}
        by_expiry = {f.expiry: f for f in filled.fills}
        assert by_expiry[held.expiry].side == "BOT" and by_expiry[new.contract.expiry].side == "SLD"
        net = by_expiry[held.expiry].price - by_expiry[new.contract.expiry].price
        assert net <= float(req.limit_price) + 1e-9
        assert filled.avg_fill_price == pytest.approx(net, abs=1e-4)
        # A retry of the same request returns the same order (200), IB holds one order.
        r = api(combo_bridge, "POST", "/v1/orders/combo", json=req.model_dump(mode="json"))
        assert r.status_code == 200 and r.json()["order_id"] == order.order_id
        [sim_order] = sim_orders(combo_sim, req.client_order_id)
        assert sim_order["sec_type"] == "BAG" and sim_order["status"] == "Filled"
        # Same id, different contents: 409.
        other = req.model_copy(update={"quantity": 2})
        r = api(combo_bridge, "POST", "/v1/orders/combo", json=other.model_dump(mode="json"))
        assert r.status_code == 409 and r.json()["field"] == "client_order_id"
        # The book after the roll: the old put gone, the new one short.
        opts = {(p.expiry, p.strike): p.quantity for p in c.positions() if p.sec_type == "OPT"}
        assert opts.get((held.expiry, held.strike)) is None
        assert opts[(new.contract.expiry, held.strike)] == -1
        # Each leg's execution on NATS, with the combo's order id and client id.
        for expiry in (held.expiry, new.contract.expiry):
            _, data = await events.wait(
                lambda s, d, e=expiry: (
                    s.startswith("ibkr.execution.")
                    and ExecutionEvent.model_validate_json(d).fill.client_order_id
                    == req.client_order_id
                    and ExecutionEvent.model_validate_json(d).fill.expiry == e
                ),
                what=f"execution of the {expiry} leg",
            )
            assert ExecutionEvent.model_validate_json(data).fill.order_id == order.order_id
        _, data = await events.wait(
            lambda s, d: (
                s == f"ibkr.order.{order.order_id}"
                and OrderEvent.model_validate_json(d).order.status == OrderStatus.FILLED
            ),
            what="filled combo order event",
        )
        ev = OrderEvent.model_validate_json(data)
        assert isinstance(ev.order.request, ComboOrderRequest)
        assert [leg.expiry for leg in ev.order.request.legs] == [held.expiry, new.contract.expiry]
        # The executions endpoint lists the legs, never a BAG line.
        mine = [f for f in c.executions() if f.client_order_id == req.client_order_id]
        assert sorted(f.side for f in mine) == ["BOT", "SLD"]
    finally:
        await events.close()


async def _filled(bc: BridgeClient, order_id: int) -> Any:
    o = await bc.order(order_id)
    return o if o.status == OrderStatus.FILLED and len(o.fills) == 2 else None


# ---- pricing arithmetic ---------------------------------------------------------------------
PENNY_THEN_NICKEL = [(0.0, 0.01), (3.0, 0.05)]


@pytest.mark.parametrize(
    ("bid", "ask", "action", "rules", "expected"),
    [
        (2.11, 2.16, "SELL", PENNY_THEN_NICKEL, 2.13),  # mid 2.135: a seller rounds down
        (2.11, 2.16, "BUY", PENNY_THEN_NICKEL, 2.14),  # and a buyer up
        (3.10, 3.30, "SELL", PENNY_THEN_NICKEL, 3.20),  # on the nickel grid above $3
        (3.10, 3.25, "SELL", PENNY_THEN_NICKEL, 3.15),  # mid 3.175 -> 3.15
        (3.10, 3.25, "BUY", PENNY_THEN_NICKEL, 3.20),
        (2.11, 2.12, "SELL", PENNY_THEN_NICKEL, 2.11),  # a one-tick market: never through it
        (2.11, 2.12, "BUY", PENNY_THEN_NICKEL, 2.12),
        (3.12, 3.13, "SELL", PENNY_THEN_NICKEL, 3.12),  # no nickel inside: the bid (on IB's tick)
        (-0.62, -0.41, "BUY", None, -0.51),  # a combo credit: buying rounds up (less credit)
        (-0.62, -0.41, "SELL", None, -0.52),
        (None, 2.0, "SELL", PENNY_THEN_NICKEL, None),
    ],
)
def test_suggest_limit(bid, ask, action, rules, expected) -> None:  # type: ignore[no-untyped-def]
    assert suggest_limit(bid, ask, action, rules) == expected


def test_natural_market_of_a_roll() -> None:
    legs = [
        ComboLeg(expiry=date(2026, 7, 17), strike=200, right="P", action="BUY"),
        ComboLeg(expiry=date(2026, 8, 21), strike=200, right="P", action="SELL"),
    ]
    # Close at 2.11/2.16, open at 3.40/3.50: the roll's market is -1.39 .. -1.24 (a credit).
    assert natural_market(legs, [(2.11, 2.16), (3.40, 3.50)]) == (-1.39, -1.24)
    assert natural_market(legs, [(2.11, 2.16), (None, 3.50)]) == (None, None)
