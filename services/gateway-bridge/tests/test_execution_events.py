"""Which executions the bridge publishes as news: ib_insync's real `IB`/`Wrapper` receive the
IB messages (execDetails, commissionReport, end of a batch) that tws-sim would send."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway_bridge.order_events import OrderEvents
from ib_insync import IB, CommissionReport, Execution, Option

EXECUTED = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)  # a moment in IB's execution report


class Watcher(OrderEvents):
    """OrderEvents' execution watch on a bare IB, recording what it would publish."""

    def __init__(self, ib: IB) -> None:
        self._ib = ib
        self.published: list[tuple[str, str]] = []
        self._watch_executions()

    @property
    def ib(self) -> IB:
        return self._ib

    def _on_fill(self, ib_fill: Any, kind: str) -> None:
        self.published.append((ib_fill.execution.execId, kind))


def execution(exec_id: str) -> Execution:
    # orderId 0 and no orderRef: an assignment, which belongs to no API order
    return Execution(execId=exec_id, time=EXECUTED, acctNumber="DU1", side="BOT", shares=100)


async def test_live_executions_of_no_api_order_are_published_once_requested_ones_never() -> None:
    # async: ib_insync's request futures need a running loop (a sync test finds none after an
    # asyncio test has run in the same process)
    ib = IB()
    watcher = Watcher(ib)
    wrapper = ib.wrapper
    put = Option("AAPL", "20261204", 150.0, "P", "SMART", conId=101)
    wrapper.startReq(7)  # a reqExecutions answer in flight (ib_insync's on connect, or ours)
    wrapper.execDetails(7, put, execution("0001.old"))
    wrapper.execDetails(-1, put, execution("0002.assigned"))  # live: IB's unsolicited report
    wrapper.commissionReport(CommissionReport(execId="0002.assigned", commission=0.0))
    wrapper.tcpDataProcessed()  # end of the batch: ib.updateEvent
    assert watcher.published == [("0002.assigned", "fill"), ("0002.assigned", "commission")]
    wrapper.execDetails(-1, put, execution("0002.assigned"))  # IB repeats it (after a request)
    wrapper.commissionReport(CommissionReport(execId="0001.old", commission=1.05))
    wrapper.tcpDataProcessed()
    assert watcher.published[2:] == [("0001.old", "commission")]
