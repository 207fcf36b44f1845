"""One order, retried at every step of a failure, reaches IBKR (tws-sim) exactly once.

The web's own tests prove a double click and a replayed confirm against the real bridge; this
adds the failures between processes: the bridge answering the web too late (tws-sim delaying
every message past the web's 20 s confirm timeout), the user retrying while it is slow, then the
bridge restarted and the confirm retried again. tws-sim's own order book is the judge; the
web learns the order's state through its worker (pages never call IBKR on a GET). It runs on
SQLite and on PostgreSQL (`web_database`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from wheeldesk_testing.e2e import (
    confirm_form,
    login,
    preview_put_from_web,
    ready,
    sim_orders,
    start_worker,
    wait_until,
)
from wheeldesk_testing.stack import Stack

pytestmark = pytest.mark.slow

LATENCY_MS = 12_000  # each answer late: a contract look-up + the order status exceed 20 s


@pytest.fixture
def system(web_database: dict[str, str], request: pytest.FixtureRequest) -> Iterator[Stack]:
    """On SQLite the shared fault stack; on PostgreSQL a stack of its own whose web and worker
    use a fresh database (`web_database`): the same retries, on the other engine."""
    if not web_database:
        yield request.getfixturevalue("fault_stack")
        return
    stack = Stack.start(web_env=web_database)
    try:
        yield stack
    finally:
        stack.stop()


def test_confirm_retried_through_a_slow_bridge_and_a_bridge_restart_places_one_order(
    system: Stack,
) -> None:
    system.control("/control/fill-mode", {"mode": "never"})
    client = login(system)
    coid, bid = preview_put_from_web(client, system, "PEP")
    form = confirm_form(client, coid)
    confirm = f"/orders/{coid}/confirm/"

    # 1. The bridge is slow to answer (tws-sim delays everything it sends): the web times out.
    system.control("/control/latency", {"ms": LATENCY_MS})
    try:
        first = client.post(confirm, data=form, timeout=120)
        assert first.status_code == 302, first.text[:500]
        # 2. The user retries while it is still slow.
        second = client.post(confirm, data=form, timeout=120)
        assert second.status_code == 302, second.text[:500]
        # The slow bridge did place it meanwhile (the web does not know yet: status unknown).
        wait_until(lambda: sim_orders(system, coid), 120, "the order to reach tws-sim")
    finally:
        system.control("/control/latency", {"ms": 0})
    # 3. The bridge restarts; the user retries once more, and the page refreshes its status.
    system.bridge.stop()
    system.bridge.start(wait=False)
    wait_until(lambda: ready(system.bridge_url), 120, "the bridge back")
    third = client.post(confirm, data=form, timeout=120)
    assert third.status_code == 302, third.text[:500]
    # Pages only read: the worker (its order-event consumer and its sync pass) is what brings
    # the order's state from IBKR into the web, as under `make run`.
    worker = start_worker(system, "--ignore-hours", "--tick", "2", "--sync-every", "10s")
    last = {}

    def submitted() -> bool:
        last["html"] = client.get(f"/orders/{coid}/status/", timeout=60).text
        return 'data-status="submitted"' in last["html"]

    try:
        wait_until(submitted, 120, "the order to be known as submitted")
    except AssertionError as exc:
        worker.stop()
        raise AssertionError(
            f"{exc}; tws-sim has {sim_orders(system, coid)}; bridge lists "
            f"{system.bridge_get('/v1/orders')}; status block: {last.get('html', '')[:600]}"
        ) from exc
    worker.stop()
    # tws-sim, the stand-in for IBKR, holds exactly one order for this client order id.
    orders = sim_orders(system, coid)
    assert len(orders) == 1, orders
    assert orders[0]["action"] == "SELL" and float(orders[0]["lmt_price"]) == pytest.approx(
        round(bid, 2)
    )
    detail = client.get(f"/orders/{coid}/", timeout=60)
    assert detail.status_code == 200
    assert 'data-status="submitted"' in detail.text
    client.close()
