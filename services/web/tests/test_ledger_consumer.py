"""Executions and order events from a real nats-server (JetStream) into the ledger."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import nats
import pytest
from asgiref.sync import sync_to_async
from web_factories import option_fill
from wheeldesk import subjects
from wheeldesk.natsconn import ensure_streams, publish_event
from wheeldesk.schemas.orders import ExecutionEvent, Fill
from wheeldesk_testing.procs import nats_proc
from wheeldesk_testing.waits import await_until
from wheeldesk_web.ledger.models import Execution, WheelCycle
from wheeldesk_web.worker.consumer import consume

pytestmark = pytest.mark.django_db(transaction=True)


def fill(exec_id: str, **kw) -> Fill:  # type: ignore[no-untyped-def]
    """A PEP 150 put sold at 2.40 (the factory's put, on PEP)."""
    pep = {
        "time": datetime(2026, 11, 2, 15, tzinfo=UTC),
        "symbol": "PEP",
        "expiry": date(2026, 11, 20),
        "strike": 150.0,
        "price": 2.40,
    }
    return option_fill(exec_id, **{**pep, **kw})


async def wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """The harness's poll loop over a database read (`predicate` runs in Django's sync thread)."""
    await await_until(sync_to_async(predicate), timeout, "the consumer's writes", interval=0.1)


@pytest.fixture
def nats_url():  # type: ignore[no-untyped-def]
    proc = nats_proc().start()
    yield proc.url  # the test user; the server has the per-service users on
    proc.stop()


async def test_executions_from_jetstream_become_a_cycle(nats_url):
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js, [subjects.STREAM_IBKR])
    # published while no consumer runs: the durable consumer reads them when it starts
    put = fill("0000e0d5.6568a1b2.01.01")
    await publish_event(js, subjects.execution(put.exec_id), ExecutionEvent(fill=put))
    await nc.publish(subjects.execution("garbage"), b"{not json")  # core publish, ends in stream
    await js.publish(subjects.execution("bad"), b'{"fill": {"exec_id": 1}}')
    stop = asyncio.Event()
    task = asyncio.create_task(consume(nats_url, stop))
    await wait_for(lambda: Execution.objects.filter(exec_id=put.exec_id).exists())
    # the assignment arrives later, as IB reports it: option leg at 0, stock at the strike
    legs = [
        fill(
            "a.1",
            time=datetime(2026, 11, 20, 21, tzinfo=UTC),
            side="BOT",
            price=0,
            commission=None,
            kind="assignment",
        ),
        fill(
            "a.2",
            time=datetime(2026, 11, 20, 21, tzinfo=UTC),
            sec_type="STK",
            expiry=None,
            strike=None,
            right=None,
            multiplier=1,
            side="BOT",
            quantity=100,
            price=150.0,
            commission=None,
            kind="assignment",
        ),
    ]
    for f in legs:
        await publish_event(js, subjects.execution(f.exec_id), ExecutionEvent(fill=f))
    # a redelivery of the first event (same exec id) must not double count
    await publish_event(
        js, subjects.execution(put.exec_id), ExecutionEvent(fill=put), msg_id="redelivered-1"
    )
    await wait_for(lambda: Execution.objects.count() == 3)
    stop.set()
    await asyncio.wait_for(task, 30)
    await nc.close()
    cycle = await sync_to_async(WheelCycle.objects.get)(symbol="PEP")
    # basis = 150 − 240 / 100 = 147.60
    assert cycle.state == "shares" and str(cycle.adjusted_cost_basis) == "147.6000"
    assert await sync_to_async(Execution.objects.count)() == 3


async def test_a_poisoned_execution_on_the_bus_is_skipped_not_stored(nats_url):
    """Issue 17.1: a fake execution with a multiplier of 1e15 (or a NaN price) must never reach
    the ledger; the consumer skips it (acked: retrying never helps) and goes on."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js, [subjects.STREAM_IBKR])
    poisoned = [
        fill("0000e0d5.00000bad.01.01", multiplier=10**15),
        fill("0000e0d5.00000bad.02.01", symbol="X" * 5000),
        fill("0000e0d5.00000bad.03.01", time=datetime(1, 1, 2, tzinfo=UTC)),
    ]
    good = fill("0000e0d5.0000600d.01.01")
    for f in [*poisoned, good]:
        await publish_event(js, subjects.execution(f.exec_id[:40]), ExecutionEvent(fill=f))
    stop = asyncio.Event()
    task = asyncio.create_task(consume(nats_url, stop))
    await wait_for(lambda: Execution.objects.filter(exec_id=good.exec_id).exists())
    stop.set()
    await asyncio.wait_for(task, 30)
    info = await js.consumer_info(subjects.STREAM_IBKR, "web-ledger-executions")
    await nc.close()
    assert await sync_to_async(Execution.objects.count)() == 1
    assert info.num_ack_pending == 0 and info.num_pending == 0  # skipped, not redelivered
