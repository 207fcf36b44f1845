"""Which executions the bridge publishes as news: ib_insync's real `IB`/`Wrapper` receive the
IB messages (execDetails, commissionReport, end of a batch) that tws-sim would send."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
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


class Recorder:
    """A publisher that keeps what it is handed."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, str | None]] = []

    def spawn(self, subject: str, event: Any, msg_id: str | None = None) -> None:
        self.sent.append((subject, event, msg_id))


class Publishing(OrderEvents):
    """OrderEvents' real publication path on a bare IB (no trade of this client's)."""

    def __init__(self, ib: IB) -> None:
        self._ib = ib
        self.publisher = Recorder()
        self.session = SimpleNamespace(account_id="DU1")
        self._settlements: list[Any] = []
        self._settle_handle = None
        self._watch_executions()

    @property
    def ib(self) -> IB:
        return self._ib


async def test_a_fill_is_published_once_and_its_later_commission_once_with_its_amount() -> None:
    ib = IB()
    events = Publishing(ib)
    wrapper = ib.wrapper
    put = Option("AAPL", "20261204", 150.0, "P", "SMART", conId=101)
    ours = Execution(
        execId="0003.ours", time=EXECUTED, acctNumber="DU1", side="SLD", shares=1, price=2.5,
        orderId=5, permId=9, orderRef="wd-1",
    )  # fmt: skip
    wrapper.execDetails(-1, put, ours)
    wrapper.tcpDataProcessed()
    wrapper.tcpDataProcessed()  # a batch without news publishes nothing again
    wrapper.commissionReport(CommissionReport(execId="0003.ours", commission=1.05))
    wrapper.tcpDataProcessed()
    wrapper.execDetails(-1, put, ours)  # IB repeats it
    wrapper.tcpDataProcessed()
    sent = events.publisher.sent
    assert [(subject, msg_id) for subject, _, msg_id in sent] == [
        ("ibkr.execution.0003_ours", "exec:0003.ours:fill"),
        ("ibkr.execution.0003_ours", "exec:0003.ours:commission"),
    ]
    fill, commission = (event.fill for _, event, _ in sent)
    assert fill.commission is None and fill.quantity == 1 and fill.price == 2.5
    assert commission.commission == pytest.approx(1.05) and commission.client_order_id == "wd-1"


async def test_a_reconnect_reports_nothing_already_published() -> None:
    # ib_insync starts a new fills map on reconnect and asks for the day's executions again
    ib = IB()
    watcher = Watcher(ib)
    wrapper = ib.wrapper
    put = Option("AAPL", "20261204", 150.0, "P", "SMART", conId=101)
    wrapper.execDetails(-1, put, execution("0004.before"))
    wrapper.tcpDataProcessed()  # its commission has not come yet
    wrapper.execDetails(-1, put, execution("0005.before"))
    wrapper.commissionReport(CommissionReport(execId="0005.before", commission=1.0))
    wrapper.tcpDataProcessed()
    wrapper.reset()
    wrapper.startReq(8)
    for exec_id in ("0004.before", "0005.before"):
        wrapper.execDetails(8, put, execution(exec_id))
        wrapper.commissionReport(CommissionReport(execId=exec_id, commission=1.0))
    wrapper.execDetails(-1, put, execution("0006.after"))
    wrapper.tcpDataProcessed()
    assert watcher.published == [
        ("0004.before", "fill"),
        ("0005.before", "fill"),
        ("0005.before", "commission"),
        ("0004.before", "commission"),  # the first report of it this bridge saw
        ("0006.after", "fill"),
    ]
