"""Orders end to end against tws-sim: preview, place once, guards, cancel, fills and their events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from bridge_helpers import Collector, api, await_until, bridge_env, client, ctl, wait_for
from wheeldesk.clients import BridgeClient
from wheeldesk.schemas.account import AccountEvent, PositionEvent
from wheeldesk.schemas.orders import (
    ExecutionEvent,
    OrderEvent,
    OrderRequest,
    OrderStatus,
)
from wheeldesk_testing.procs import TEST_TOKEN, Proc, service_proc, tws_sim_proc


@pytest.fixture(scope="module")
def order_sim() -> Iterator[Proc]:
    """tws-sim of this module's own: orders change the account other tests read."""
    proc = tws_sim_proc().start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def order_bridge(order_sim: Proc, nats_server: Proc) -> Iterator[Proc]:
    env = bridge_env(order_sim, nats_server.url, MAX_CONTRACTS_PER_ORDER="5")  # type: ignore[attr-defined]
    proc = service_proc("gateway-bridge", env).start(timeout=90)
    yield proc
    proc.stop()


@pytest.fixture(autouse=True)
def _fill_mode(order_sim: Proc) -> Iterator[None]:
    ctl(order_sim, "/control/fill-mode", {"mode": "cross"})
    yield
    ctl(order_sim, "/control/fill-mode", {"mode": "cross"})


def coid() -> str:
    return f"wd-{uuid.uuid4().hex[:16]}"


def a_put(bridge: Proc) -> Any:
    chain = client(bridge).chain(
        "MSFT", right="P", dte_min=14, dte_max=50, delta_min=0.15, delta_max=0.35
    )
    assert chain.options, "tws-sim should list MSFT puts in the band"
    return chain.options[len(chain.options) // 2]


def put_request(option: Any, price: float | None, **kw: Any) -> OrderRequest:
    body: dict[str, Any] = {
        "client_order_id": coid(),
        "symbol": option.contract.symbol,
        "sec_type": "OPT",
        "expiry": option.contract.expiry,
        "strike": option.contract.strike,
        "right": option.contract.right,
        "action": "SELL",
        "quantity": 1,
        "order_type": "LMT",
        "limit_price": Decimal(str(round(price, 2))) if price is not None else None,
    }
    body.update(kw)
    return OrderRequest(**body)


def sim_orders(sim: Proc, ref: str) -> list[dict[str, Any]]:
    return [o for o in ctl(sim, "/state/orders") if o.get("order_ref") == ref]


def test_preview_reports_commission_and_margin(order_bridge: Proc, order_sim: Proc) -> None:
    opt = a_put(order_bridge)
    req = put_request(opt, opt.bid)
    preview = client(order_bridge).preview(req)
    assert preview.account_id == "DU7654321" and preview.is_paper
    assert preview.commission is not None and 0 < preview.commission < 10
    assert preview.init_margin_change is not None and preview.init_margin_change > 0
    assert preview.buying_power_before is not None and preview.buying_power_after is not None
    assert preview.buying_power_after < preview.buying_power_before
    assert preview.bid is not None and preview.ask is not None and preview.bid <= preview.ask
    assert preview.warnings == []
    # A what-if never reaches tws-sim's order book.
    assert sim_orders(order_sim, req.client_order_id) == []


async def test_sell_to_open_fills_once_with_events(
    order_bridge: Proc, order_sim: Proc, nats_server: Proc
) -> None:
    events = await Collector().start(nats_server.url)  # type: ignore[attr-defined]
    try:
        opt = a_put(order_bridge)
        req = put_request(opt, opt.bid)
        async with BridgeClient(order_bridge.url, TEST_TOKEN, timeout=60) as bc:
            order = await bc.place(req)
            assert order.client_order_id == req.client_order_id
            assert order.request.strike == opt.contract.strike
            filled = await await_until(
                lambda: _filled(bc, order.order_id), what="order filled", timeout=30
            )
            assert filled.filled == 1 and filled.avg_fill_price is not None
            assert filled.avg_fill_price >= float(req.limit_price or 0) - 1e-9
            # A retry of the same request returns the same order, 200 not 201.
            r = api(order_bridge, "POST", "/v1/orders", json=req.model_dump(mode="json"))
            assert r.status_code == 200 and r.json()["order_id"] == order.order_id
            assert len(sim_orders(order_sim, req.client_order_id)) == 1

            fills = await bc.executions()
            mine = [f for f in fills if f.client_order_id == req.client_order_id]
            assert len(mine) == 1 and mine[0].side == "SLD" and mine[0].kind == "trade"
            assert mine[0].strike == opt.contract.strike and mine[0].quantity == 1

            positions = await bc.positions()
            assert any(
                p.sec_type == "OPT"
                and p.symbol == "MSFT"
                and p.strike == opt.contract.strike
                and p.quantity == -1
                for p in positions
            )

        _, data = await events.wait(
            lambda s, d: (
                s == f"ibkr.order.{order.order_id}"
                and OrderEvent.model_validate_json(d).order.status == OrderStatus.FILLED
            ),
            what="filled order event",
        )
        ev = OrderEvent.model_validate_json(data)
        assert ev.order.client_order_id == req.client_order_id and ev.schema_version == 1
        _, data = await events.wait(
            lambda s, d: (
                s.startswith("ibkr.execution.")
                and ExecutionEvent.model_validate_json(d).fill.client_order_id
                == req.client_order_id
            ),
            what="execution event",
        )
        assert ExecutionEvent.model_validate_json(data).fill.side == "SLD"
        await events.wait(
            lambda s, d: (
                s.startswith("ibkr.order.")
                and OrderEvent.model_validate_json(d).kind == "commission"
            ),
            what="commission event",
        )
        _, data = await events.wait(lambda s, d: s == "ibkr.account", what="account event")
        assert AccountEvent.model_validate_json(data).account_id == "DU7654321"
        _, data = await events.wait(
            lambda s, d: (
                s == "ibkr.position" and PositionEvent.model_validate_json(d).symbol == "MSFT"
            ),
            what="position event",
        )
        assert PositionEvent.model_validate_json(data).sec_type == "OPT"
    finally:
        await events.close()


async def _filled(bc: BridgeClient, order_id: int) -> Any:
    o = await bc.order(order_id)
    return o if o.status == OrderStatus.FILLED else None


def test_same_client_order_id_different_contents_is_409(
    order_bridge: Proc, order_sim: Proc
) -> None:
    ctl(order_sim, "/control/fill-mode", {"mode": "never"})
    opt = a_put(order_bridge)
    req = put_request(opt, opt.ask)
    r = api(order_bridge, "POST", "/v1/orders", json=req.model_dump(mode="json"))
    assert r.status_code == 201, r.text
    other = req.model_copy(update={"quantity": 2})
    r = api(order_bridge, "POST", "/v1/orders", json=other.model_dump(mode="json"))
    assert r.status_code == 409 and r.json()["code"] == "duplicate_client_order_id"
    assert r.json()["field"] == "client_order_id"
    assert len(sim_orders(order_sim, req.client_order_id)) == 1


def test_cancel_working_order(order_bridge: Proc, order_sim: Proc) -> None:
    ctl(order_sim, "/control/fill-mode", {"mode": "never"})
    opt = a_put(order_bridge)
    req = put_request(opt, opt.ask)
    c = client(order_bridge)
    order = c.place(req)
    assert order.status in (OrderStatus.SUBMITTED, OrderStatus.PENDING)
    assert c.order(order.order_id).client_order_id == req.client_order_id
    assert c.order(req.client_order_id).order_id == order.order_id
    assert any(o.order_id == order.order_id for o in c.orders())
    cancelled = c.cancel(order.order_id)
    assert cancelled.status == OrderStatus.CANCELLED
    assert sim_orders(order_sim, req.client_order_id)[0]["status"].lower().endswith("cancelled")
    r = api(order_bridge, "DELETE", f"/v1/orders/{order.order_id}")
    assert r.status_code == 409 and r.json()["code"] == "order_not_cancellable"
    r = api(order_bridge, "GET", "/v1/orders/999999")
    assert r.status_code == 404 and r.json()["code"] == "unknown_order"


def test_guards(order_bridge: Proc, order_sim: Proc) -> None:
    ctl(order_sim, "/control/fill-mode", {"mode": "never"})
    opt = a_put(order_bridge)
    # Limit far below the bid: refused unless forced.
    cheap = put_request(opt, max(0.01, (opt.bid or 1) * 0.2))
    r = api(order_bridge, "POST", "/v1/orders", json=cheap.model_dump(mode="json"))
    assert r.status_code == 422 and r.json()["code"] == "limit_outside_market"
    assert r.json()["field"] == "limit_price"
    assert sim_orders(order_sim, cheap.client_order_id) == []
    preview = client(order_bridge).preview(cheap)
    assert any("below the bid" in w for w in preview.warnings)
    forced = cheap.model_copy(update={"force": True})
    r = api(order_bridge, "POST", "/v1/orders", json=forced.model_dump(mode="json"))
    assert r.status_code == 201, r.text
    # MAX_CONTRACTS_PER_ORDER=5 in this bridge.
    big = put_request(opt, opt.ask, quantity=6)
    r = api(order_bridge, "POST", "/v1/orders", json=big.model_dump(mode="json"))
    assert r.status_code == 422 and r.json()["code"] == "quantity_too_large"
    assert sim_orders(order_sim, big.client_order_id) == []
    # Unknown option contract.
    bogus = put_request(opt, 1.0, strike=1.5)
    r = api(order_bridge, "POST", "/v1/orders", json=bogus.model_dump(mode="json"))
    assert r.status_code == 404 and r.json()["code"] == "unknown_contract"
    # Malformed body names the field.
    body = cheap.model_dump(mode="json") | {"quantity": 0}
    r = api(order_bridge, "POST", "/v1/orders", json=body)
    assert r.status_code == 422 and r.json()["field"] == "quantity"


def test_rejected_by_ib(order_bridge: Proc, order_sim: Proc) -> None:
    ctl(
        order_sim,
        "/control/reject-next-order",
        {"code": 201, "message": "Order rejected - reason: insufficient margin"},
    )
    opt = a_put(order_bridge)
    req = put_request(opt, opt.bid)
    r = api(order_bridge, "POST", "/v1/orders", json=req.model_dump(mode="json"))
    assert r.status_code in (200, 201), r.text
    order_id = r.json()["order_id"]
    order = wait_for(
        lambda: (o := client(order_bridge).order(order_id)).status == OrderStatus.REJECTED and o,
        what="rejected",
    )
    assert "insufficient margin" in (order.message or "")


def test_stock_market_order(order_bridge: Proc) -> None:
    c = client(order_bridge)
    req = OrderRequest(
        client_order_id=coid(),
        symbol="KO",
        sec_type="STK",
        action="SELL",
        quantity=100,
        order_type="MKT",
    )
    order = c.place(req)
    done = wait_for(
        lambda: (o := c.order(order.order_id)).status == OrderStatus.FILLED and o, what="filled"
    )
    assert done.filled == 100
    ko = [p for p in c.positions() if p.symbol == "KO" and p.sec_type == "STK"]
    assert ko and ko[0].quantity == 100


def test_off_tick_limit_is_422_before_ib(order_bridge: Proc, order_sim: Proc) -> None:
    """MSFT is a penny-program name: $0.05 from $3, so 3.27 never reaches IB (error 110)."""
    opt = a_put(order_bridge)
    off = put_request(opt, 3.27)
    want = "3.27 is not on the $0.05 tick for this contract: use 3.25 or 3.30"
    for path in ("/v1/orders/preview", "/v1/orders"):
        r = api(order_bridge, "POST", path, json=off.model_dump(mode="json"))
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "limit_off_tick" and r.json()["field"] == "limit_price"
        assert want in r.json()["message"]
    assert sim_orders(order_sim, off.client_order_id) == []
    # Under $3 the same contract moves in pennies: 2.97 is a valid limit.
    ok = client(order_bridge).preview(put_request(opt, 2.97))
    assert ok.commission
