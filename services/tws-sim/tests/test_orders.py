"""Orders through ib_insync: what-if, fills, cancel, modify, rejection, expiry settlement."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ib_insync import IB, Contract, ContractDetails, LimitOrder, MarketOrder, Option, Stock
from twssim_helpers import ErrorLog, connect, ctl, wait_for
from wheeldesk_testing.procs import Proc


@pytest.fixture
def sim(tws_sim_factory) -> Proc:
    """A simulator of the test's own: the starting book, no orders, no faults."""
    return tws_sim_factory()


@pytest.fixture
async def ib(sim: Proc) -> AsyncIterator[IB]:
    """A client connected to `sim`, disconnected after the test."""
    client, _ = await connect(sim)
    yield client
    client.disconnect()


async def stock(ib: IB, symbol: str) -> Contract:
    [c] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    return c


async def ko_60_puts(ib: IB) -> list[ContractDetails]:
    """KO's 60 puts, one contract per listed expiry."""
    return await ib.reqContractDetailsAsync(Option("KO", "", 60.0, "P", "SMART", tradingClass="KO"))


def cash(ib) -> float:
    return float(
        next(
            v.value for v in ib.accountValues() if v.tag == "TotalCashValue" and v.currency == "USD"
        )
    )


def position(ib, symbol: str, sec_type: str = "STK") -> float:
    return sum(
        p.position
        for p in ib.positions()
        if p.contract.symbol == symbol and p.contract.secType == sec_type
    )


async def test_stock_limit_buy_fills_and_updates_positions_and_cash(sim: Proc, ib: IB) -> None:
    c = await stock(ib, "PEP")
    [t] = await ib.reqTickersAsync(c)
    cash0 = cash(ib)
    fills = []
    ib.execDetailsEvent += lambda trade, fill: fills.append(fill)
    order = LimitOrder("BUY", 100, round(t.ask + 0.5, 2), orderRef="wd-test-1")
    trade = ib.placeOrder(c, order)
    await wait_for(lambda: trade.orderStatus.status == "Filled", what="fill")
    await wait_for(
        lambda: trade.fills and trade.fills[0].commissionReport.commission > 0,
        what="commission report",
    )
    fill = trade.fills[0]
    assert fill.execution.shares == 100 and fill.execution.side == "BOT"
    assert fill.execution.price <= order.lmtPrice
    assert fill.execution.orderRef == "wd-test-1"
    assert fill.commissionReport.commission == pytest.approx(1.0)
    assert trade.orderStatus.filled == 100 and trade.orderStatus.remaining == 0
    assert fills and fills[0].execution.execId == fill.execution.execId
    await wait_for(lambda: position(ib, "PEP") == 100, what="position update")
    expected = cash0 - 100 * fill.execution.price - 1.0
    await wait_for(lambda: abs(cash(ib) - expected) < 0.01, what="cash update")
    [o] = ctl(sim, "/state/orders")
    assert o["status"] == "Filled" and o["order_ref"] == "wd-test-1" and o["filled"] == 100
    assert any(p.contract.symbol == "PEP" and p.position == 100 for p in ib.portfolio())
    execs = await ib.reqExecutionsAsync()
    assert [f.execution.orderRef for f in execs] == ["wd-test-1"]


async def test_sell_to_open_put_limit_and_market_close(sim: Proc, ib: IB) -> None:
    opt = (await ko_60_puts(ib))[4].contract
    [t] = await ib.reqTickersAsync(opt)
    assert t.bid > 0
    cash0 = cash(ib)
    trade = ib.placeOrder(opt, LimitOrder("SELL", 2, t.bid, orderRef="csp-1"))
    await wait_for(lambda: trade.orderStatus.status == "Filled", what="put sale filled")
    price = trade.orderStatus.avgFillPrice
    assert price == pytest.approx(t.bid, abs=0.05)
    await wait_for(lambda: position(ib, "KO", "OPT") == -2, what="short put position")
    await wait_for(
        lambda: abs(cash(ib) - (cash0 + 200 * price - 1.30)) < 0.01, what="premium credited"
    )
    close = ib.placeOrder(opt, MarketOrder("BUY", 2))
    await wait_for(lambda: close.orderStatus.status == "Filled", what="close filled")
    await wait_for(lambda: position(ib, "KO", "OPT") == 0, what="flat")
    assert len(ctl(sim, "/state/orders")) == 2


async def test_what_if_reports_commission_and_margin(tws_sim) -> None:
    ib, _ = await connect(tws_sim)
    try:
        details = await ib.reqContractDetailsAsync(
            Option("AAPL", "", 0.0, "P", "SMART", tradingClass="AAPL")
        )
        opt = details[len(details) // 2].contract
        before = len(ctl(tws_sim, "/state/orders"))
        state = await ib.whatIfOrderAsync(opt, LimitOrder("SELL", 1, 1.0))
        assert state.commission == pytest.approx(1.0)
        assert float(state.initMarginChange) > 0
        assert float(state.maintMarginChange) > 0
        assert float(state.initMarginAfter) == pytest.approx(
            float(state.initMarginBefore) + float(state.initMarginChange), abs=0.02
        )
        assert float(state.equityWithLoanBefore) > 0
        stock_state = await ib.whatIfOrderAsync(
            Stock("KO", "SMART", "USD"), MarketOrder("BUY", 100)
        )
        assert stock_state.commission == pytest.approx(1.0)
        assert float(stock_state.initMarginChange) > 0
        assert len(ctl(tws_sim, "/state/orders")) == before  # what-if never becomes an order
    finally:
        ib.disconnect()


async def test_cancel_and_modify_working_order(sim: Proc, ib: IB) -> None:
    ctl(sim, "/control/fill-mode", {"mode": "never"})
    errors = ErrorLog(ib)
    c = await stock(ib, "T")
    order = LimitOrder("BUY", 100, 5.0, orderRef="cancel-me")
    trade = ib.placeOrder(c, order)
    await wait_for(lambda: trade.orderStatus.status == "Submitted", what="submitted")
    order.lmtPrice = 6.0
    ib.placeOrder(c, order)
    await wait_for(lambda: ctl(sim, "/state/orders")[0]["lmt_price"] == 6.0, what="modify")
    assert len(ctl(sim, "/state/orders")) == 1
    ib.cancelOrder(order)
    await wait_for(lambda: trade.orderStatus.status == "Cancelled", what="cancelled")
    [o] = ctl(sim, "/state/orders")
    assert o["status"] == "Cancelled" and o["filled"] == 0
    assert 202 in errors.codes()
    assert position(ib, "T") == 0
    # a cancelled order cannot be cancelled again: IB's 10148
    ib.client.cancelOrder(order.orderId)
    await wait_for(lambda: 10148 in errors.codes(), what="error 10148")


async def test_reject_next_order(sim: Proc, ib: IB) -> None:
    ctl(
        sim,
        "/control/reject-next-order",
        {"code": 201, "message": "Order rejected - reason: simulated margin"},
    )
    errors = ErrorLog(ib)
    c = await stock(ib, "F")
    trade = ib.placeOrder(c, MarketOrder("BUY", 100))
    await wait_for(lambda: trade.isDone(), what="rejected")
    assert trade.orderStatus.status == "Cancelled"
    assert any(code == 201 and "simulated margin" in msg for _, code, msg in errors.items)
    second = ib.placeOrder(c, MarketOrder("BUY", 100))
    await wait_for(lambda: second.orderStatus.status == "Filled", what="next order fills")


async def test_expiry_assignment_and_call_away(sim: Proc, ib: IB) -> None:
    put = next(p for p in ib.positions() if p.contract.secType == "OPT")
    strike = put.contract.strike
    # sell a covered call on KO expiring the same week as the put or earlier
    details = await ib.reqContractDetailsAsync(
        Option("KO", put.contract.lastTradeDateOrContractMonth, 0.0, "C", "SMART")
    )
    call = min((d.contract for d in details), key=lambda c: abs(c.strike - 62))
    trade = ib.placeOrder(call, MarketOrder("SELL", 1))
    await wait_for(lambda: trade.orderStatus.status == "Filled", what="call sold")
    cash0 = cash(ib)
    ctl(sim, "/control/price", {"symbol": "AAPL", "price": round(strike * 0.8, 2)})
    ctl(sim, "/control/price", {"symbol": "KO", "price": round(call.strike * 1.2, 2)})
    res = ctl(sim, "/control/advance", {"days": 40})
    assert len(res["settled"]) == 4
    await wait_for(lambda: position(ib, "AAPL") == 100, what="AAPL assigned")
    await wait_for(lambda: position(ib, "AAPL", "OPT") == 0, what="put gone")
    await wait_for(lambda: position(ib, "KO") == 100, what="KO called away")
    await wait_for(lambda: position(ib, "KO", "OPT") == 0, what="call gone")
    expected = cash0 - strike * 100 + call.strike * 100
    await wait_for(lambda: abs(cash(ib) - expected) < 0.01, what="cash settles")
    # IB reports assignments as executions without an API order (orderId 0)
    await wait_for(
        lambda: len([f for f in ib.fills() if f.execution.orderId == 0]) == 4,
        what="assignment executions",
    )
    execs = [f for f in ib.fills() if f.execution.orderId == 0]
    assert {f.execution.execId for f in await ib.reqExecutionsAsync()} >= {
        f.execution.execId for f in execs
    }
    stock_fills = {f.contract.symbol: f.execution for f in execs if f.contract.secType == "STK"}
    assert stock_fills["AAPL"].side == "BOT" and stock_fills["AAPL"].price == strike
    assert stock_fills["KO"].side == "SLD" and stock_fills["KO"].price == call.strike


async def test_otm_put_expires_worthless(sim: Proc, ib: IB) -> None:
    put = next(p for p in ib.positions() if p.contract.secType == "OPT")
    cash0 = cash(ib)
    ctl(sim, "/control/price", {"symbol": "AAPL", "price": round(put.contract.strike * 1.3, 2)})
    ctl(sim, "/control/advance", {"days": 45})
    await wait_for(lambda: position(ib, "AAPL", "OPT") == 0, what="put expired")
    assert position(ib, "AAPL") == 0
    assert cash(ib) == pytest.approx(cash0)


async def test_reconnect_sees_working_and_completed_orders(sim: Proc) -> None:
    cid = 4242
    ib, _ = await connect(sim, client_id=cid)
    try:
        c = await stock(ib, "VZ")
        done = ib.placeOrder(c, MarketOrder("BUY", 100, orderRef="done-1"))
        await wait_for(lambda: done.orderStatus.status == "Filled", what="fill")
        ctl(sim, "/control/fill-mode", {"mode": "never"})
        working = ib.placeOrder(c, LimitOrder("BUY", 100, 1.0, orderRef="work-1"))
        await wait_for(lambda: working.orderStatus.status == "Submitted", what="working")
    finally:
        ib.disconnect()
    ib, _ = await connect(sim, client_id=cid)
    try:
        refs = {t.order.orderRef: t.orderStatus.status for t in ib.trades()}
        assert refs == {"done-1": "Filled", "work-1": "Submitted"}
        [open_trade] = ib.openTrades()
        assert open_trade.order.orderId == working.order.orderId
        assert len(ib.fills()) == 1 and ib.fills()[0].execution.orderRef == "done-1"
    finally:
        ib.disconnect()


async def test_completed_orders_list_filled_and_cancelled_not_working(sim: Proc, ib: IB) -> None:
    c = await stock(ib, "VZ")
    filled = ib.placeOrder(c, MarketOrder("BUY", 100, orderRef="co-filled"))
    await wait_for(lambda: filled.orderStatus.status == "Filled", what="fill")
    ctl(sim, "/control/fill-mode", {"mode": "never"})
    cancelled = ib.placeOrder(c, LimitOrder("BUY", 7, 1.0, orderRef="co-cancelled"))
    working = ib.placeOrder(c, LimitOrder("BUY", 3, 1.0, orderRef="co-working"))
    await wait_for(lambda: cancelled.orderStatus.status == "Submitted", what="submitted")
    ib.cancelOrder(cancelled.order)
    await wait_for(lambda: cancelled.orderStatus.status == "Cancelled", what="cancelled")
    await wait_for(lambda: working.orderStatus.status == "Submitted", what="working")
    ib.disconnect()
    # Another client (a restarted bridge) asks IB for the account's finished orders.
    other, _ = await connect(sim)
    try:
        done = {t.order.orderRef: t for t in await other.reqCompletedOrdersAsync(apiOnly=False)}
        assert set(done) == {"co-filled", "co-cancelled"}
        f, x = done["co-filled"], done["co-cancelled"]
        assert (f.orderStatus.status, f.order.totalQuantity, f.order.filledQuantity) == (
            "Filled",
            100,
            100,
        )
        assert (x.orderStatus.status, x.order.totalQuantity, x.order.filledQuantity) == (
            "Cancelled",
            7,
            0,
        )
        assert (x.order.orderType, x.order.lmtPrice, x.order.action) == ("LMT", 1.0, "BUY")
        assert f.order.permId == filled.order.permId and x.order.permId == cancelled.order.permId
        assert f.contract.symbol == x.contract.symbol == "VZ"
        assert f.order.account == x.order.account == "DU7654321"
    finally:
        other.disconnect()


async def test_off_tick_option_limit_is_rejected_with_error_110(sim: Proc, ib: IB) -> None:
    """KO is a penny-program name: $0.05 from $3, so 3.27 is off the tick and 3.25 is on it."""
    details = await ko_60_puts(ib)
    opt = details[0].contract
    assert details[0].minTick == 0.01
    rule_ids = {int(r) for r in details[0].marketRuleIds.split(",")}
    assert len(rule_ids) == 1
    rule = await ib.reqMarketRuleAsync(rule_ids.pop())
    assert [(r.lowEdge, r.increment) for r in rule] == [(0.0, 0.01), (3.0, 0.05)]
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
    trade = ib.placeOrder(opt, LimitOrder("SELL", 1, 3.27, orderRef="off-tick"))
    await wait_for(lambda: trade.orderStatus.status == "Inactive", what="inactive order")
    assert (trade.order.orderId, 110) in errors
    [o] = ctl(sim, "/state/orders")
    assert o["status"] == "Inactive" and o["filled"] == 0
    state = await ib.whatIfOrderAsync(opt, LimitOrder("SELL", 1, 3.27))
    assert state == []  # ib_insync's answer to a failed what-if (error 110 ends it)
    assert [c for _, c in errors].count(110) == 2
    ok = await ib.whatIfOrderAsync(opt, LimitOrder("SELL", 1, 3.25))
    assert ok.commission > 0
    below = await ib.whatIfOrderAsync(opt, LimitOrder("SELL", 1, 2.97))
    assert below.commission > 0  # pennies under $3
    assert len(ctl(sim, "/state/orders")) == 1
