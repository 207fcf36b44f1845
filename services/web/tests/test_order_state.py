"""One writer of order state, over the real stack: tws-sim behind the real gateway-bridge
(ib_insync), its events on a real nats-server's JetStream, and the web worker's own code —
its `web-orders` / `web-ledger-executions` consumers (`worker.consumer.consume`) and its
`Worker.tick(now)` sync pass — writing the test database.

Each scenario is driven so that every writer gets its say (the place call's answer, the
stream's events, the sync pass, a cancel's answer, the worker down while IB fills), then
replayed (the sync pass again, the stream redelivered from its start): the order's status
history must be exactly the user-visible sequence, in event order, without repeats.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal

import httpx
import nats
import pytest
from asgiref.sync import sync_to_async
from nats.js.errors import NotFoundError
from wheeldesk import subjects
from wheeldesk.clients import SyncBridgeClient, SyncNotifierClient
from wheeldesk.schemas.market import OptionContract
from wheeldesk_testing.moments import SIM_START
from wheeldesk_testing.procs import (
    TEST_TOKEN,
    Proc,
    free_port,
    nats_proc,
    service_proc,
    tws_sim_proc,
)
from wheeldesk_testing.waits import wait_until
from wheeldesk_web.ledger.models import Execution
from wheeldesk_web.orders.models import Order
from wheeldesk_web.orders.services import OrderRefused, cancel, claim_and_send
from wheeldesk_web.worker.consumer import CONSUMERS, consume
from wheeldesk_web.worker.loop import Worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SYMBOL = "KO"


@pytest.fixture(scope="module")
def own_nats() -> Iterator[Proc]:
    """A server of this module's own: the worker's durable consumers start at its stream's
    beginning, and the replay at the end re-reads every event this module published."""
    proc = nats_proc().start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    proc = tws_sim_proc(seed=7).start()
    # One quote step a minute: fills happen when this test says (`fills`), a lot at a time.
    httpx.post(f"{proc.control_url}/control/tick-rate", json={"ms": 60_000}, timeout=10)  # type: ignore[attr-defined]
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def bridge_proc(sim: Proc, own_nats: Proc) -> Iterator[Proc]:
    env = {
        "IB_PORT": str(sim.port),
        "NATS_URL": own_nats.url,
        "IB_CLIENT_ID": "41",
        "IB_SIMULATED": "true",
        "IB_RECONNECT_MAX_SECONDS": "1",
        "MAX_CONTRACTS_PER_ORDER": "100",  # a size larger than the touch: a partial fill
    }
    proc = service_proc("gateway-bridge", env)
    proc.start(timeout=90)
    yield proc
    proc.stop()


@pytest.fixture
def bridge(bridge_proc: Proc) -> Iterator[SyncBridgeClient]:
    client = SyncBridgeClient(bridge_proc.url, TEST_TOKEN, timeout=30)
    yield client
    client.close()


def fills(sim: Proc, mode: str) -> None:
    """tws-sim's fill mode: "never" rests every order, "cross" fills what is marketable now
    (one lot of the touch's size per quote step)."""
    r = httpx.post(f"{sim.control_url}/control/fill-mode", json={"mode": mode}, timeout=10)  # type: ignore[attr-defined]
    r.raise_for_status()


def put_at_bid(bridge: SyncBridgeClient) -> tuple:
    """A listed KO put with a bid: (contract, bid)."""
    chain = bridge.chain(SYMBOL, right="P", dte_min=20, dte_max=60, strikes=10)
    quotes = [q for q in chain.options if q.bid and q.bid > 0.2]
    assert quotes, "no KO put with a bid"
    q = max(quotes, key=lambda q: q.bid or 0)
    return q.contract, Decimal(str(q.bid))


def sell_put(
    bridge: SyncBridgeClient,
    contract: OptionContract,
    limit: Decimal,
    quantity: int = 1,
    **fields: object,
) -> Order:
    """A sell of the put at `limit`, through the web's one claim-and-send (the confirm's)."""
    order = Order.objects.create(
        symbol=SYMBOL,
        sec_type="OPT",
        expiry=contract.expiry,
        strike=Decimal(str(contract.strike)),
        right="P",
        action="SELL",
        quantity=quantity,
        limit_price=limit,
        **fields,
    )
    request = order.to_request()
    return claim_and_send(order, None, bridge, lambda: bridge.place(request), request)


def place(bridge: SyncBridgeClient, quantity: int = 1) -> Order:
    """A sell of the put at its bid."""
    contract, bid = put_at_bid(bridge)
    return sell_put(bridge, contract, bid, quantity)


def drain(nats_url: str, done: Callable[[], bool] = lambda: True, timeout: float = 45) -> None:
    """Run the worker's consumers until `done` holds and both have nothing left to read."""

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(consume(nats_url, stop))
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                left = 0
                for durable in CONSUMERS:
                    try:
                        info = await js.consumer_info(subjects.STREAM_IBKR, durable)
                        left += info.num_pending + info.num_ack_pending
                    except NotFoundError:
                        left += 1
                if not left and await sync_to_async(done)():
                    return
                assert loop.time() < deadline, "the consumers did not catch up in time"
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            await nc.close()

    asyncio.run(run())


def tick(bridge: SyncBridgeClient, minutes: int = 0) -> None:
    """One pass of the worker at a pinned moment (its sync pass: backfill, positions, and the
    reconciliation of every working order with the bridge)."""
    closed = SyncNotifierClient(f"http://127.0.0.1:{free_port()}", TEST_TOKEN, timeout=2)
    worker = Worker(
        scan_every=None,
        ignore_hours=True,
        sync=lambda: True,
        discover=lambda: 0,
        bridge_factory=lambda: bridge,
        notifier_factory=lambda: closed,
    )
    worker.tick(SIM_START + timedelta(minutes=minutes))


def history(order: Order) -> list[str]:
    return list(order.history.values_list("status", flat=True))


def status_is(order: Order, status: str) -> Callable[[], bool]:
    return lambda: Order.objects.get(pk=order.pk).status == status


def replay_changes_nothing(order: Order, bridge: SyncBridgeClient, nats_url: str) -> None:
    """Every writer again — the sync pass twice, the whole stream redelivered from its start to
    a fresh consumer — and the history stays as it was."""
    before = (history(order), Order.objects.get(pk=order.pk).filled)
    tick(bridge, minutes=30)
    tick(bridge, minutes=35)

    async def rewind() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        for durable in CONSUMERS:
            await js.delete_consumer(subjects.STREAM_IBKR, durable)
        await nc.close()

    asyncio.run(rewind())
    drain(nats_url)
    assert (history(order), Order.objects.get(pk=order.pk).filled) == before


def test_fill(sim: Proc, bridge: SyncBridgeClient, own_nats: Proc) -> None:
    fills(sim, "never")
    order = place(bridge)
    assert order.status == "submitted"  # the place call's answer
    drain(own_nats.url)  # the stream's pending / submitted: behind or equal, nothing new
    fills(sim, "cross")
    drain(own_nats.url, status_is(order, "filled"))
    tick(bridge)
    order.refresh_from_db()
    assert (order.status, order.filled) == ("filled", 1)
    assert history(order) == ["sending", "submitted", "filled"]
    assert Execution.objects.filter(client_order_id=order.client_order_id).count() == 1
    replay_changes_nothing(order, bridge, own_nats.url)


def test_partial_fill_then_the_rest(sim: Proc, bridge: SyncBridgeClient, own_nats: Proc) -> None:
    fills(sim, "never")
    # tws-sim shows at most 51 contracts at an option's touch: 60 fill in pieces.
    quantity = 60
    order = place(bridge, quantity)
    fills(sim, "cross")  # one quote step's lot
    fills(sim, "never")
    drain(own_nats.url, status_is(order, "partially_filled"))
    tick(bridge)
    order.refresh_from_db()
    assert 0 < order.filled < quantity
    while order.status != "filled":  # the rest, a lot a step: still ONE "partially filled"
        fills(sim, "cross")
        fills(sim, "never")
        drain(own_nats.url)
        order.refresh_from_db()
    assert order.filled == quantity
    assert history(order) == ["sending", "submitted", "partially_filled", "filled"]
    replay_changes_nothing(order, bridge, own_nats.url)


def test_cancel(sim: Proc, bridge: SyncBridgeClient, own_nats: Proc) -> None:
    fills(sim, "never")
    order = place(bridge)
    drain(own_nats.url)
    cancel(order, bridge)  # the cancel POST's answer, then the stream's, then the sync pass
    drain(own_nats.url, status_is(order, "cancelled"))
    tick(bridge)
    with pytest.raises(OrderRefused, match="nothing to cancel"):
        cancel(Order.objects.get(pk=order.pk), bridge)
    assert history(order) == ["sending", "submitted", "cancelled"]
    replay_changes_nothing(order, bridge, own_nats.url)


def test_reject(sim: Proc, bridge: SyncBridgeClient, own_nats: Proc) -> None:
    fills(sim, "cross")
    r = httpx.post(
        f"{sim.control_url}/control/reject-next-order",  # type: ignore[attr-defined]
        json={"code": 201, "message": "Order rejected - reason: margin"},
        timeout=10,
    )
    r.raise_for_status()
    order = place(bridge)  # IB's answer: the order rejected (error 201)
    drain(own_nats.url)
    tick(bridge)
    order.refresh_from_db()
    assert order.status == "rejected" and "reason: margin" in order.message  # IB's reason
    assert history(order) == ["sending", "rejected"]
    replay_changes_nothing(order, bridge, own_nats.url)


def test_fill_while_the_worker_is_down(sim: Proc, bridge: SyncBridgeClient, own_nats: Proc) -> None:
    """IB fills the order while no consumer runs: back up, the sync pass finds it filled first,
    then the stream's backlog (submitted, filled) arrives late and changes nothing."""
    fills(sim, "never")
    order = place(bridge)
    fills(sim, "cross")  # filled at IBKR; the events wait in JetStream
    # tws-sim fills on its next quote step: the sync pass must find it done, not still resting
    wait_until(
        lambda: bridge.order(order.client_order_id).status == "filled",
        30,
        "the bridge to see the order filled at IBKR",
    )
    tick(bridge)
    order.refresh_from_db()
    assert order.status == "filled"
    drain(own_nats.url)
    order.refresh_from_db()
    assert (order.status, order.filled) == ("filled", 1)
    assert history(order) == ["sending", "submitted", "filled"]
    assert Execution.objects.filter(client_order_id=order.client_order_id).count() == 1
    replay_changes_nothing(order, bridge, own_nats.url)


def put_with_room(bridge: SyncBridgeClient) -> tuple:
    """A listed KO put under $3 (a penny tick) whose quote is at least 3 cents wide:
    (contract, bid, ask)."""
    chain = bridge.chain(SYMBOL, right="P", dte_min=20, dte_max=60, strikes=10)
    quoted = [
        q for q in chain.options if q.bid and q.ask and q.ask < 3 and q.ask - q.bid >= 0.03 - 1e-9
    ]
    assert quoted, "no KO put under $3 with a quote 3 cents wide"
    q = max(quoted, key=lambda q: (q.ask or 0) - (q.bid or 0))
    return q.contract, Decimal(str(q.bid)), Decimal(str(q.ask))


def sim_limit(sim: Proc, coid: str) -> float:
    [o] = sim_orders_for(sim, coid)
    return o["lmt_price"]


def test_automatic_reprice_steps_every_n_minutes_up_to_m_then_stops(
    sim: Proc, bridge: SyncBridgeClient, own_nats: Proc, admin_client
) -> None:
    """Opted in at confirm: every 5 minutes one cent toward the bid, at most 2 steps. The worker,
    ticked at moved moments, modifies the same order at tws-sim and audits each step."""
    fills(sim, "never")
    contract, bid, ask = put_with_room(bridge)
    order = sell_put(
        bridge, contract, ask, reprice_every=5, reprice_max=2, reprice_step=Decimal("0.01")
    )
    sent = order.sent_at
    assert order.status == "submitted" and sent is not None
    coid = order.client_order_id

    def at(minutes: int) -> tuple[float, Decimal]:
        """Tick the worker `minutes` after the order was sent: (tws-sim's limit, ours)."""
        Worker(
            scan_every=None,
            ignore_hours=True,
            sync=lambda: True,
            discover=lambda: 0,
            bridge_factory=lambda: bridge,
            notifier_factory=lambda: SyncNotifierClient(
                f"http://127.0.0.1:{free_port()}", TEST_TOKEN, timeout=2
            ),
        ).tick(sent + timedelta(minutes=minutes))
        return sim_limit(sim, coid), Order.objects.get(pk=order.pk).limit_price

    one, two = ask - Decimal("0.01"), ask - Decimal("0.02")
    assert two >= bid  # both steps inside the quote
    assert at(4) == (pytest.approx(float(ask)), ask)  # not due yet
    assert at(5) == (pytest.approx(float(one)), one)  # step 1, the same order at IBKR
    assert at(9) == (pytest.approx(float(one)), one)  # 4 minutes after step 1: not due
    assert at(10) == (pytest.approx(float(two)), two)  # step 2
    assert at(30) == (pytest.approx(float(two)), two)  # the limit of 2 steps: stopped
    assert len(sim_orders_for(sim, coid)) == 1  # modifies, never a second order
    steps = list(
        order.audit.filter(action="modify").order_by("at", "id").values_list("detail", flat=True)
    )
    assert steps == [
        f"re-priced {ask:.2f} → {one:.2f} by auto re-price (step 1 of 2)",
        f"re-priced {one:.2f} → {two:.2f} by auto re-price (step 2 of 2)",
    ]
    page = admin_client.get(f"/orders/{coid}/").content.decode()
    assert "2 of 2 steps taken (ended)" in page
    assert f"re-priced {one:.2f} → {two:.2f} by auto re-price" in page
    # Cancelled with steps left: no step is ever taken again.
    Order.objects.filter(pk=order.pk).update(reprice_max=5)
    cancel(Order.objects.get(pk=order.pk), bridge)
    at(60)
    assert order.audit.filter(action="modify").count() == 2


def sim_orders_for(sim: Proc, coid: str) -> list[dict]:
    orders = httpx.get(f"{sim.control_url}/state/orders", timeout=10).json()  # type: ignore[attr-defined]
    return [o for o in orders if o.get("order_ref") == coid]
