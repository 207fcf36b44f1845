"""The bridge only runs on the account it says it runs on, and read-only means read-only.

A configured IB_ACCOUNT that the IB login does not manage (a DU… id on a live login would make
the bridge call the account paper and pass its live-order guard) stops the bridge with one
line and exit 2. With IB_READONLY=true no what-if (an order message) reaches IB and working
orders placed elsewhere are still listed.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from bridge_helpers import api, bridge_env, client, ctl
from gateway_bridge.connection import account_problem
from wheeldesk.schemas.orders import OrderRequest, OrderStatus
from wheeldesk_testing.procs import Proc, service_proc, tws_sim_proc


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    """tws-sim of this module's own (it places a working order)."""
    proc = tws_sim_proc().start()
    yield proc
    ctl(proc, "/control/fill-mode", {"mode": "cross"})
    proc.stop()


def test_account_problem_names_the_login_kind() -> None:
    assert account_problem("DU1234567", ["U7654321"]) == (
        "IB_ACCOUNT DU1234567 is not an account of this IB login (live: U7654321); "
        "refusing to run on it"
    )
    assert account_problem("U1", ["DU2", "DU3"]) == (
        "IB_ACCOUNT U1 is not an account of this IB login (paper: DU2, DU3); refusing to run on it"
    )
    assert account_problem(None, ["U7654321"]) is None
    assert account_problem("DU2", ["DU2", "DU3"]) is None
    assert account_problem(None, []) == "IB reported no managed accounts for this login"


def test_a_live_login_places_no_order(sim: Proc, nats_server: Proc) -> None:
    """The account is the one IB's login manages (U… = live): orders are refused, 403, unless
    ALLOW_LIVE_ORDERS; the preview still answers, saying so."""
    live = tws_sim_proc(extra=["--account", "U1234567"]).start()
    bridge = service_proc("gateway-bridge", bridge_env(live, nats_server.url))  # type: ignore[attr-defined]
    try:
        bridge.start(timeout=90)
        assert client(bridge).account().account_id == "U1234567"
        req = OrderRequest(
            client_order_id=f"wd-{uuid.uuid4().hex[:16]}",
            symbol="KO",
            sec_type="STK",
            action="BUY",
            quantity=100,
            order_type="LMT",
            limit_price=Decimal("1.00"),
            force=True,
        )
        r = api(bridge, "POST", "/v1/orders", json=req.model_dump(mode="json"))
        assert r.status_code == 403 and r.json()["code"] == "live_account_refused"
        preview = api(bridge, "POST", "/v1/orders/preview", json=req.model_dump(mode="json"))
        assert preview.status_code == 200 and not preview.json()["is_paper"]
        assert "live account: placing this order will be refused" in preview.json()["warnings"]
        assert [
            o for o in ctl(live, "/state/orders") if o.get("order_ref") == req.client_order_id
        ] == []
    finally:
        bridge.stop()
        live.stop()


def test_a_configured_account_the_login_does_not_manage_stops_the_bridge(
    sim: Proc, nats_server: Proc
) -> None:
    bridge = service_proc(
        "gateway-bridge",
        bridge_env(sim, nats_server.url, IB_ACCOUNT="DU0000001"),  # type: ignore[attr-defined]
    )
    bridge.start(wait=False)
    try:
        assert bridge.proc is not None
        deadline = time.monotonic() + 60
        ready = False
        while bridge.proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                ready = ready or httpx.get(f"{bridge.url}/readyz", timeout=1).status_code == 200
            time.sleep(0.1)
        assert bridge.proc.returncode == 2, bridge.tail()
        assert not ready
        last = bridge.log_text().strip().splitlines()[-1]
        assert last == (
            "configuration error: IB_ACCOUNT DU0000001 is not an account of this IB login "
            "(paper: DU7654321); refusing to run on it"
        )
    finally:
        bridge.stop()


def test_read_only_sends_no_what_if_and_still_lists_working_orders(
    sim: Proc, nats_server: Proc
) -> None:
    url = nats_server.url  # type: ignore[attr-defined]
    trader = service_proc("gateway-bridge", bridge_env(sim, url)).start(timeout=90)
    reader = service_proc("gateway-bridge", bridge_env(sim, url, IB_READONLY="true"))
    try:
        ctl(sim, "/control/fill-mode", {"mode": "never"})
        chain = client(trader).chain(
            "MSFT", right="P", dte_min=14, dte_max=50, delta_min=0.15, delta_max=0.35
        )
        opt = chain.options[len(chain.options) // 2]
        req = OrderRequest(
            client_order_id=f"wd-{uuid.uuid4().hex[:16]}",
            symbol=opt.contract.symbol,
            sec_type="OPT",
            expiry=opt.contract.expiry,
            strike=opt.contract.strike,
            right=opt.contract.right,
            action="SELL",
            quantity=1,
            order_type="LMT",
            limit_price=Decimal(str(round(opt.ask, 2))),
        )
        working = client(trader).place(req)
        assert working.status in (OrderStatus.SUBMITTED, OrderStatus.PENDING)

        reader.start(timeout=90)
        listed = {o.client_order_id: o for o in client(reader).orders()}
        assert req.client_order_id in listed, list(listed)
        assert listed[req.client_order_id].status in (OrderStatus.SUBMITTED, OrderStatus.PENDING)
        assert listed[req.client_order_id].request.quantity == 1
        assert listed[req.client_order_id].remaining == 1

        ctl(sim, "/control/reset-counters", {})
        preview_req = req.model_copy(update={"client_order_id": f"wd-{uuid.uuid4().hex[:16]}"})
        preview = client(reader).preview(preview_req)
        assert preview.commission is None and preview.init_margin_change is None
        assert any(w.startswith("read-only (IB_READONLY): no what-if") for w in preview.warnings)
        assert ctl(sim, "/state/requests")["requests"].get("placeOrder", 0) == 0
        r = api(reader, "POST", "/v1/orders", json=preview_req.model_dump(mode="json"))
        assert r.status_code == 403 and r.json()["code"] == "read_only"
    finally:
        reader.stop()
        trader.stop()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"IB_PORT": "4001"},
            "configuration error: IB_PORT 127.0.0.1:4001 is not tws-sim (IB_SIMULATED=false) and"
            " INTERNAL_API_TOKEN is the public demo default: set INTERNAL_API_TOKEN"
            " (openssl rand -hex 32) or DEMO_MODE=false",
        ),
        (
            {"IB_SIMULATED": "true", "ALLOW_LIVE_ORDERS": "true"},
            "configuration error: ALLOW_LIVE_ORDERS=true needs DEMO_MODE=false",
        ),
    ],
)
def test_demo_mode_is_for_the_simulator(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    """`make run` against a real IB Gateway with the README's public token is refused."""
    from gateway_bridge.settings import BridgeSettings
    from wheeldesk.settings import ConfigError, load_settings

    monkeypatch.setenv("DEMO_MODE", "true")
    monkeypatch.delenv("INTERNAL_API_TOKEN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings(BridgeSettings, exit_on_error=False)
    assert str(err.value) == message
    monkeypatch.setenv("INTERNAL_API_TOKEN", "a-changed-token-0123456789abcdef")
    monkeypatch.delenv("ALLOW_LIVE_ORDERS", raising=False)
    assert load_settings(BridgeSettings, exit_on_error=False).demo_mode
