"""Re-pricing a working order: IB's modify of the same order (placeOrder with its id), never a
second order. The order keeps its id, orderRef and the fills it has so far.

A new limit is given outright (`limit_price`, the one-click re-price), or as a `step` the
bridge takes from the working limit toward the market — down for a sell, up for a buy — on the
contract's own tick grid and never past the far side (the bid for a sell, the ask for a buy):
what the web's automatic re-price sends, since only the bridge knows the grid and the quote now.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from decimal import Decimal

from ib_insync import Trade
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.orders import Order, OrderModify

from gateway_bridge.combos import combo_tick_problem, tick_at
from gateway_bridge.guards import check_live_allowed
from gateway_bridge.orders import OrderService


def step_limit(
    current: float,
    step: float,
    action: str,
    bid: float | None,
    ask: float | None,
    increments: list[tuple[float, float]],
) -> float:
    """The working limit moved `step` toward the market, snapped onto the tick grid in the same
    direction, and held at the far side: a sell never below the bid, a buy never above the ask.
    A step that cannot move it (already at that side) is a 409, no quote a 422."""
    sell = action.upper().startswith("S")
    far, side = (bid, "bid") if sell else (ask, "ask")
    if far is None or far <= 0:
        raise ServiceError(
            422, "no_market", f"no {side} to step toward now: not re-priced", field="step"
        )
    target = current - step if sell else current + step
    tick = tick_at(target, increments)
    n = target / tick
    ticks = math.floor(n + 1e-9) if sell else math.ceil(n - 1e-9)
    bound = math.ceil(far / tick - 1e-9) if sell else math.floor(far / tick + 1e-9)
    ticks = max(ticks, bound) if sell else min(ticks, bound)
    price = round(ticks * tick, 4)
    if (sell and price >= current - 1e-9) or (not sell and price <= current + 1e-9):
        raise ServiceError(
            409,
            "at_market",
            f"the limit {current:g} is already at the {side} ({far:g}): no step left",
            field="step",
        )
    return price


async def _rule_ids(svc: OrderService, trade: Trade) -> str:
    c = trade.contract
    rule_ids = svc._rule_ids.get(c.conId)
    if rule_ids is None:
        details = await svc.md.call(lambda: svc.ib.reqContractDetailsAsync(c))
        rule_ids = (details[0].marketRuleIds or "") if details else ""
        svc._rule_ids[c.conId] = rule_ids
    return rule_ids


async def _new_limit(svc: OrderService, trade: Trade, body: OrderModify) -> float:
    """The limit to send, checked against the contract's tick (422 before IB's error 110)."""
    c = trade.contract
    if c.secType == "BAG":
        if body.step is not None:
            raise ServiceError(
                422, "invalid", "step: a combo is re-priced with a limit_price", field="step"
            )
        price = float(body.limit_price or 0)
        if (problem := combo_tick_problem(price)) is not None:
            raise ServiceError(422, "limit_off_tick", problem, field="limit_price")
        return price
    increments = [(0.0, 0.01)]
    if c.secType == "OPT":
        increments = await svc._increments(await _rule_ids(svc, trade)) or increments
    if body.step is not None:
        bid, ask = await svc._market(c)
        return step_limit(
            float(trade.order.lmtPrice), float(body.step), trade.order.action, bid, ask, increments
        )
    price = float(body.limit_price or 0)
    if price <= 0:
        raise ServiceError(
            422, "invalid", "limit_price: must be greater than 0", field="limit_price"
        )
    if c.secType == "OPT":
        await svc._check_tick(price, await _rule_ids(svc, trade))
    return price


async def modify(svc: OrderService, ident: str, body: OrderModify) -> Order:
    """A new limit for a working order, sent as IB's modify of the same order."""
    trade = svc.get_trade(ident)
    if trade.isDone() or not trade.order.orderId:
        raise ServiceError(
            409,
            "order_not_modifiable",
            f"order {ident} is {trade.orderStatus.status.lower() or 'not working'}",
        )
    check_live_allowed(svc.session.account_id, svc.settings.allow_live_orders)
    if svc.settings.ib_readonly:
        raise ServiceError(403, "read_only", "the bridge is connected read-only (IB_READONLY)")
    if trade.order.orderType != "LMT":
        raise ServiceError(409, "order_not_modifiable", "only a limit order can be re-priced")
    price = await _new_limit(svc, trade, body)
    svc.session.require_ready()
    await svc.md.limiter.acquire()
    trade.order.lmtPrice = price
    ref = trade.order.orderRef
    if ref in svc._requests:
        svc._requests[ref] = svc._requests[ref].model_copy(
            update={"limit_price": Decimal(str(price))}
        )
    svc.ib.placeOrder(trade.contract, trade.order)
    with contextlib.suppress(TimeoutError):
        # IB confirms a modify with openOrder/orderStatus at the new price (or fills it).
        await asyncio.wait_for(trade.statusEvent, 1.0)
    return svc._order(trade)
