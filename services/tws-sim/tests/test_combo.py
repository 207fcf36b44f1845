"""BAG (combo) orders through the real ib_insync client: a roll of the starting short AAPL put
to a later expiry as ONE order — what-if for the whole combo, a net credit limit in IB's sign
convention (buying the combo at a negative price receives a credit), both legs filled together
with an execution and a commission report each under the combo's order id, and IB's refusal of
a leg whose conId is not a listed contract."""

from __future__ import annotations

import pytest
from ib_insync import ComboLeg, Contract, LimitOrder, Option
from twssim_helpers import connect, ctl, wait_for


def short_aapl_put(ib) -> Contract:  # type: ignore[no-untyped-def]
    [p] = [
        p
        for p in ib.positions()
        if p.contract.symbol == "AAPL" and p.contract.secType == "OPT" and p.position < 0
    ]
    assert p.position == -1
    return p.contract


async def later_put(ib, held: Contract) -> Contract:  # type: ignore[no-untyped-def]
    """The same strike at the next listed expiry after the held one (from the chain)."""
    [under] = await ib.qualifyContractsAsync(
        Contract(secType="STK", symbol="AAPL", exchange="SMART", currency="USD")
    )
    chains = await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", under.conId)
    expiries = sorted(e for ch in chains for e in ch.expirations)
    later = next(e for e in expiries if e > held.lastTradeDateOrContractMonth)
    [new] = await ib.qualifyContractsAsync(Option("AAPL", later, held.strike, "P", "SMART"))
    return new


def roll_bag(old_con_id: int, new_con_id: int) -> Contract:
    return Contract(
        secType="BAG",
        symbol="AAPL",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=old_con_id, ratio=1, action="BUY", exchange="SMART"),
            ComboLeg(conId=new_con_id, ratio=1, action="SELL", exchange="SMART"),
        ],
    )


async def test_roll_as_one_bag_order_what_if_fill_and_executions_per_leg(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    ib, errors = await connect(sim)
    try:
        await wait_for(lambda: bool(ib.positions()), what="positions")
        old = short_aapl_put(ib)
        [old] = await ib.qualifyContractsAsync(Option(conId=old.conId, exchange="SMART"))
        new = await later_put(ib, old)
        bag = roll_bag(old.conId, new.conId)
        t_old, t_new = await ib.reqTickersAsync(old, new)
        natural = round(t_old.ask - t_new.bid, 2)  # < 0: the later put pays more (a credit)
        assert natural < 0

        # What-if: the whole combo — two legs of $1 minimum commission, no order created.
        state = await ib.whatIfOrderAsync(bag, LimitOrder("BUY", 1, natural))
        assert state.commission == pytest.approx(2.0)
        assert float(state.initMarginAfter) == pytest.approx(
            float(state.initMarginBefore) + float(state.initMarginChange), abs=0.02
        )
        assert ctl(sim, "/state/orders") == []

        # Asking for a credit far beyond the market: the combo works, nothing fills.
        order = LimitOrder("BUY", 1, round(natural - 1.0, 2), orderRef="roll-1")
        trade = ib.placeOrder(bag, order)
        await wait_for(lambda: trade.orderStatus.status == "Submitted", what="working")
        [working] = ctl(sim, "/state/orders")
        assert working["sec_type"] == "BAG" and working["status"] == "Submitted"
        assert [(leg["con_id"], leg["action"]) for leg in working["legs"]] == [
            (old.conId, "BUY"),
            (new.conId, "SELL"),
        ]
        assert trade.fills == []

        # Modify the same order to a marketable credit: both legs fill at once.
        order.lmtPrice = round(natural + 0.10, 2)
        ib.placeOrder(bag, order)
        await wait_for(lambda: trade.orderStatus.status == "Filled", what="combo filled")
        await wait_for(
            lambda: (
                len(trade.fills) == 2
                and all(f.commissionReport.commission > 0 for f in trade.fills)
            ),
            what="two leg fills with commissions",
        )
        by_con = {f.contract.conId: f for f in trade.fills}
        assert set(by_con) == {old.conId, new.conId}
        closing, opening = by_con[old.conId], by_con[new.conId]
        assert {f.execution.orderId for f in trade.fills} == {trade.order.orderId}
        assert len({f.execution.execId for f in trade.fills}) == 2
        assert closing.execution.side == "BOT" and opening.execution.side == "SLD"
        assert closing.execution.shares == 1 and opening.execution.shares == 1
        assert closing.commissionReport.commission == pytest.approx(1.0)
        assert opening.commissionReport.commission == pytest.approx(1.0)
        net = round(closing.execution.price - opening.execution.price, 4)
        assert net <= order.lmtPrice  # never worse than the limit
        assert trade.orderStatus.filled == 1
        assert trade.orderStatus.avgFillPrice == pytest.approx(net, abs=1e-4)
        # The short put is closed and the later one is short: the roll happened as one order.
        await wait_for(
            lambda: (
                {
                    p.contract.conId: p.position
                    for p in ib.positions()
                    if p.contract.secType == "OPT"
                }
                == {new.conId: -1}
            ),
            what="rolled positions",
        )
        execs = await ib.reqExecutionsAsync()
        assert sorted(
            f.contract.conId for f in execs if f.execution.orderRef == "roll-1"
        ) == sorted([old.conId, new.conId])
        assert not [e for e in errors.items if e[1] not in (2104, 2106, 2158, 2107, 2119)]
    finally:
        ib.disconnect()


async def test_bag_with_an_unlisted_leg_is_refused_with_error_200(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    ib, errors = await connect(sim)
    try:
        await wait_for(lambda: bool(ib.positions()), what="positions")
        old = short_aapl_put(ib)
        bag = roll_bag(old.conId, 999_999_999)
        trade = ib.placeOrder(bag, LimitOrder("BUY", 1, -0.5))
        await wait_for(lambda: 200 in errors.codes(), what="error 200")
        [(req_id, _code, msg)] = [e for e in errors.items if e[1] == 200]
        assert req_id == trade.order.orderId
        assert msg == "No security definition has been found for the request"
        await wait_for(lambda: trade.orderStatus.status == "Cancelled", what="trade ended")
        assert ctl(sim, "/state/orders") == []
        # A what-if with an unlisted leg is refused the same way, and creates nothing.
        n = len(errors.codes())
        state = await ib.whatIfOrderAsync(
            roll_bag(old.conId, 999_999_998), LimitOrder("BUY", 1, -0.5)
        )
        assert not state  # no what-if answer (ib_insync returns an empty result), only the error
        assert errors.codes()[n:] == [200]
        assert ctl(sim, "/state/orders") == []
    finally:
        ib.disconnect()
