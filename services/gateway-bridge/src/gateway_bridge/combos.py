"""Combo (BAG) orders: a roll as ONE IB order, and limits priced from the market now.

A roll placed as two orders can leave the trader half-rolled (the close fills, the new leg
does not). IB's answer — and thetagang's — is a combo order whose legs fill together at a
net price. IB's sign convention for a BAG limit: the BUY legs' prices minus the SELL legs',
as written; negative is a credit. The bridge keeps the single-order guards for combos:
idempotent by `client_order_id` (IB's orderRef), the contract cap counts every leg, a limit
far outside the legs' natural market needs `force`.

`suggest_limit` is the one place a default limit is computed: the mid of the quote now, on
the contract's real tick grid, rounded toward the side the trader trades against (a sell
toward the bid, a buy toward the ask: it favours the fill, as the web's ticket always did)
and never through the bid or the ask.
"""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ib_insync import ComboLeg as IBComboLeg
from ib_insync import Contract, LimitOrder, Trade
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.orders import (
    ComboLeg,
    ComboOrderRequest,
    ComboPreview,
    LegQuote,
    Order,
    OrderRequest,
)

from gateway_bridge.account import account_from_values, is_paper
from gateway_bridge.marketdata import num

if TYPE_CHECKING:
    from gateway_bridge.orders import OrderService

# IB prices US option combos in pennies whatever the legs' own ticks.
COMBO_TICK = 0.01
# conId -> the leg it is, learned when a leg is qualified (conIds never change): lets an order
# IB reports after a bridge restart (legs as conIds only) be described again.
_LEG_BY_CON_ID: dict[int, ComboLeg] = {}


def leg_known(con_id: int) -> bool:
    return con_id in _LEG_BY_CON_ID


def remember_leg(con_id: int, expiry: Any, strike: float, right: str) -> None:
    """What a leg's conId is (from IB's contract details), for combos IB reports by conId."""
    _LEG_BY_CON_ID[con_id] = ComboLeg.model_construct(
        expiry=expiry, strike=strike, right=right, action="BUY", ratio=1
    )


# ---- pricing (plain functions, unit-tested) ---------------------------------------------------
def tick_at(price: float, increments: list[tuple[float, float]]) -> float:
    """The tick of a market rule ((lowEdge, increment) pairs) at `price`; a penny without one."""
    steps = [inc for edge, inc in sorted(increments) if abs(price) >= edge - 1e-9]
    return steps[-1] if steps else COMBO_TICK


def suggest_limit(
    bid: float | None,
    ask: float | None,
    action: str,
    increments: list[tuple[float, float]] | None = None,
) -> float | None:
    """The mid on the tick grid, rounded toward the trader's side of the market (a sell down
    toward the bid, a buy up toward the ask) and never through it: a sell never below the
    bid, a buy never above the ask.

    Works for combo prices too (they may be negative: a credit; buying the combo rounds up,
    i.e. toward less credit)."""
    if bid is None or ask is None or ask < bid:
        return None
    if bid <= 0 and ask <= 0 and increments:  # a single contract with no market
        return None
    mid = (bid + ask) / 2
    tick = tick_at(mid, increments or [])
    n = mid / tick
    steps = math.floor(n + 1e-9) if action == "SELL" else math.ceil(n - 1e-9)
    # Clamp inside the market, on the grid: the highest grid price not above the ask, the
    # lowest not below the bid.
    hi = math.floor(ask / tick + 1e-9)
    lo = math.ceil(bid / tick - 1e-9)
    if lo > hi:  # no grid price inside the quote: the touch itself (IB quotes on the tick)
        return round(bid if action == "SELL" else ask, 4)
    steps = min(max(steps, lo), hi)
    return round(steps * tick, 4)


def natural_market(
    legs: list[ComboLeg], quotes: list[tuple[float | None, float | None]]
) -> tuple[float | None, float | None]:
    """The combo's bid and ask in IB's convention (BUY legs + , SELL legs -)."""
    bid = ask = 0.0
    for leg, (b, a) in zip(legs, quotes, strict=True):
        if b is None or a is None or a <= 0:
            return None, None
        if leg.action == "BUY":
            bid += leg.ratio * b
            ask += leg.ratio * a
        else:
            bid -= leg.ratio * a
            ask -= leg.ratio * b
    return round(bid, 4), round(ask, 4)


def combo_limit_problem(
    price: float, bid: float | None, ask: float | None, scale: float, tolerance_pct: float
) -> str | None:
    """Why a combo's net limit is too far outside its natural market (`scale` = the legs'
    summed mids: the money at stake, since a net near zero has no meaningful percentage)."""
    if bid is None or ask is None:
        return None
    slack = scale * tolerance_pct / 100.0
    if price < bid - slack:
        return (
            f"net limit {price:g} is below the combo's bid {bid:g} by more than {tolerance_pct:g}%"
        )
    if price > ask + slack:
        return (
            f"net limit {price:g} is above the combo's ask {ask:g} by more than {tolerance_pct:g}%"
        )
    return None


def combo_tick_problem(price: float) -> str | None:
    n = price / COMBO_TICK
    if abs(n - round(n)) < 1e-6:
        return None
    return f"{price:.4f} is not on the combo's $0.01 tick"


def combo_fingerprint(req: ComboOrderRequest) -> tuple[Any, ...]:
    """What makes two combo submissions the same order (force and ids excluded)."""
    legs = tuple(
        (leg.expiry, float(leg.strike), leg.right, leg.action, leg.ratio) for leg in req.legs
    )
    limit = round(float(req.limit_price), 4) if req.limit_price is not None else None
    return (req.symbol, "BAG", legs, req.action, int(req.quantity), req.order_type, limit, req.tif)


def bag_contract(symbol: str, con_ids: list[int], legs: list[ComboLeg]) -> Contract:
    return Contract(
        secType="BAG",
        symbol=symbol,
        exchange="SMART",
        currency="USD",
        comboLegs=[
            IBComboLeg(conId=cid, ratio=leg.ratio, action=leg.action, exchange="SMART")
            for cid, leg in zip(con_ids, legs, strict=True)
        ],
    )


def combo_request_from_trade(trade: Trade) -> ComboOrderRequest:
    """Rebuild a combo's request from what IB holds (after a bridge restart)."""
    c, o = trade.contract, trade.order
    by_con = {f.contract.conId: f.contract for f in trade.fills}
    legs = []
    for leg in c.comboLegs or []:
        known = _LEG_BY_CON_ID.get(leg.conId)
        if known is None and leg.conId in by_con:
            lc = by_con[leg.conId]
            from gateway_bridge.trades import _expiry

            known = ComboLeg.model_construct(
                expiry=_expiry(lc.lastTradeDateOrContractMonth),
                strike=float(lc.strike),
                right=lc.right[:1],
                action=leg.action,
                ratio=int(leg.ratio or 1),
            )
        if known is not None:
            legs.append(
                known.model_copy(update={"action": leg.action, "ratio": int(leg.ratio or 1)})
            )
    lmt = o.lmtPrice if o.lmtPrice is not None and abs(o.lmtPrice) < 1e300 else None
    return ComboOrderRequest.model_construct(
        client_order_id=o.orderRef,
        symbol=c.symbol,
        sec_type="BAG",
        legs=legs,
        action="BUY" if o.action.upper().startswith("B") else "SELL",
        quantity=int(float(o.totalQuantity)),
        order_type="LMT",
        limit_price=Decimal(str(round(lmt, 4))) if lmt is not None else None,
        tif="GTC" if o.tif == "GTC" else "DAY",
        force=False,
    )


def combo_of_fills(legs: list[Any]) -> tuple[Contract, float, float]:
    """A combo IB no longer lists (done before this connection), told from its legs'
    executions: the BUY combo of the legs as they traded (BOT = BUY leg), its quantity and its
    net price (the `Trade` itself is `trades.trade_from_fills`')."""
    first = legs[0]
    order_of: dict[int, list[Any]] = {}
    for f in legs:
        order_of.setdefault(f.contract.conId, []).append(f)
    qty = sum(float(f.execution.shares) for f in order_of[first.contract.conId])
    net = 0.0
    for group in order_of.values():
        for f in group:
            sign = 1 if f.execution.side.upper().startswith("B") else -1
            net += sign * float(f.execution.shares) * float(f.execution.price)
    net = round(net / qty, 4) if qty else 0.0
    contract = Contract(
        secType="BAG",
        symbol=first.contract.symbol,
        exchange="SMART",
        currency="USD",
        comboLegs=[
            IBComboLeg(
                conId=cid,
                ratio=max(1, round(sum(float(f.execution.shares) for f in group) / qty)),
                action="BUY" if group[0].execution.side.upper().startswith("B") else "SELL",
                exchange="SMART",
            )
            for cid, group in order_of.items()
        ],
    )
    return contract, qty, net


def leg_request(req: ComboOrderRequest, leg: ComboLeg) -> OrderRequest:
    """A leg as a single-contract request: qualified and quoted like any option."""
    return OrderRequest.model_construct(
        client_order_id=req.client_order_id,
        symbol=req.symbol,
        sec_type="OPT",
        expiry=leg.expiry,
        strike=leg.strike,
        right=leg.right,
        action=leg.action,
        quantity=req.quantity * leg.ratio,
        order_type="MKT",
        limit_price=None,
        tif=req.tif,
        force=False,
    )


def preview_fields(
    state: Any,
    account_id: str,
    account_values: list[Any],
    bid: float | None,
    ask: float | None,
    suggested: float | None,
) -> dict[str, Any]:
    """What every preview (single order or combo) says besides its request and warnings: the
    account, IB's what-if figures against the buying power now, and the market."""
    acc = account_from_values(account_id, account_values)
    return {
        "account_id": account_id,
        "is_paper": is_paper(account_id),
        **figures(state, acc.buying_power),
        "bid": bid,
        "ask": ask,
        "mid": round((bid + ask) / 2, 4) if bid is not None and ask is not None else None,
        "suggested_limit": suggested,
    }


def figures(state: Any, bp_before: float | None) -> dict[str, float | None]:
    """IB's what-if state as a preview's numbers (IB's UNSET as None) and buying power after."""

    def f(value: Any) -> float | None:
        v = num(value)
        return None if v is None or abs(v) > 1e300 else v

    init_change = f(getattr(state, "initMarginChange", None))
    return {
        "commission": f(getattr(state, "commission", None)),
        "min_commission": f(getattr(state, "minCommission", None)),
        "max_commission": f(getattr(state, "maxCommission", None)),
        "init_margin_change": init_change,
        "maint_margin_change": f(getattr(state, "maintMarginChange", None)),
        "equity_with_loan_change": f(getattr(state, "equityWithLoanChange", None)),
        "buying_power_before": bp_before,
        "buying_power_after": round(bp_before - init_change, 2)
        if bp_before is not None and init_change is not None
        else None,
    }


# ---- the service ------------------------------------------------------------------------------
class ComboOrders:
    """Preview and place combo orders through the single-order service's session and guards."""

    def __init__(self, orders: OrderService) -> None:
        self.orders = orders

    def _check_quantity(self, req: ComboOrderRequest) -> None:
        cap = self.orders.settings.max_contracts_per_order
        worst = max(leg.ratio for leg in req.legs) * req.quantity
        if worst > cap:
            raise ServiceError(
                422,
                "quantity_too_large",
                f"{worst} contracts in one leg exceeds the per-order limit of {cap} "
                "(MAX_CONTRACTS_PER_ORDER)",
                field="quantity",
            )

    async def _legs(self, req: ComboOrderRequest) -> list[Contract]:
        """Qualify every leg at IB (concurrently); 404 naming the leg IB does not list."""

        async def one(i: int, leg: ComboLeg) -> Contract:
            try:
                c = await self.orders._qualified(leg_request(req, leg))
            except ServiceError as exc:
                raise ServiceError(exc.status, exc.code, exc.message, field=f"legs.{i}") from None
            _LEG_BY_CON_ID[c.conId] = leg.model_copy(update={"action": "BUY", "ratio": 1})
            return c

        return list(await asyncio.gather(*(one(i, leg) for i, leg in enumerate(req.legs))))

    async def _quotes(self, contracts: list[Contract]) -> list[tuple[float | None, float | None]]:
        return list(await asyncio.gather(*(self.orders._market(c) for c in contracts)))

    def _limit_problem(
        self, req: ComboOrderRequest, limit: float, quotes: list[tuple[float | None, float | None]]
    ) -> str | None:
        """Why the net limit is too far outside the legs' natural market (`combo_limit_problem`,
        scaled by the legs' summed mids)."""
        bid, ask = natural_market(req.legs, quotes)
        scale = sum(
            leg.ratio * ((b or 0) + (a or 0)) / 2
            for leg, (b, a) in zip(req.legs, quotes, strict=True)
        )
        return combo_limit_problem(
            limit, bid, ask, scale, self.orders.settings.limit_price_tolerance_pct
        )

    def _ib_order(self, req: ComboOrderRequest, limit: float) -> Any:
        order = LimitOrder(req.action, req.quantity, limit)
        order.orderRef = req.client_order_id
        order.tif = req.tif
        order.account = self.orders.session.account_id or ""
        order.transmit = True
        return order

    async def preview(self, req: ComboOrderRequest) -> ComboPreview:
        svc = self.orders
        svc.session.require_ready()
        account_id = svc.session.account_id or ""
        self._check_quantity(req)
        warnings: list[str] = []
        if not is_paper(account_id) and not svc.settings.allow_live_orders:
            warnings.append("live account: placing this order will be refused")
        contracts = await self._legs(req)
        quotes = await self._quotes(contracts)
        bid, ask = natural_market(req.legs, quotes)
        suggested = suggest_limit(bid, ask, req.action)
        limit = float(req.limit_price) if req.limit_price is not None else suggested
        if bid is None or ask is None:
            warnings.append("no bid/ask for every leg: the net limit cannot be checked")
        if req.limit_price is not None:
            if (problem := combo_tick_problem(limit)) is not None:  # type: ignore[arg-type]
                raise ServiceError(422, "limit_off_tick", problem, field="limit_price")
            problem = self._limit_problem(req, limit, quotes)  # type: ignore[arg-type]
            if problem:
                warnings.append(problem + ("" if req.force else "; placing it needs force"))
        state: Any = None
        if svc.settings.ib_readonly:
            warnings.append(
                "read-only (IB_READONLY): no what-if sent; margin and commission unknown"
            )
        elif limit is None:
            warnings.append("no limit to ask IB's what-if at (no market for a leg)")
        else:
            bag = bag_contract(req.symbol, [c.conId for c in contracts], req.legs)
            state = await svc._what_if(bag, self._ib_order(req, limit))
        return ComboPreview(
            request=req,
            **preview_fields(state, account_id, svc.ib.accountValues(), bid, ask, suggested),
            legs=[
                LegQuote(
                    expiry=leg.expiry,
                    strike=leg.strike,
                    right=leg.right,
                    action=leg.action,
                    ratio=leg.ratio,
                    con_id=c.conId,
                    bid=b,
                    ask=a,
                )
                for leg, c, (b, a) in zip(req.legs, contracts, quotes, strict=True)
            ],
            warnings=warnings,
        )

    async def place(self, req: ComboOrderRequest) -> tuple[Order, bool]:
        """Place once; returns (order, created). A repeat returns the existing order."""
        from gateway_bridge.orders import check_live_allowed

        svc = self.orders
        svc.session.require_ready()
        check_live_allowed(svc.session.account_id, svc.settings.allow_live_orders)
        self._check_quantity(req)
        if svc.settings.ib_readonly:
            raise ServiceError(403, "read_only", "the bridge is connected read-only (IB_READONLY)")
        if req.limit_price is None:
            raise ServiceError(
                422, "limit_required", "a combo order needs a net limit", field="limit_price"
            )
        limit = float(req.limit_price)
        if (problem := combo_tick_problem(limit)) is not None:
            raise ServiceError(422, "limit_off_tick", problem, field="limit_price")

        def done(fills: list[Any]) -> Order:
            raise ServiceError(
                409,
                "duplicate_client_order_id",
                f"client_order_id {req.client_order_id} was already executed "
                f"(exec {fills[0].execution.execId})",
                field="client_order_id",
            )

        return await svc._once(req, done, lambda: self._place_new(req, limit))

    async def _place_new(self, req: ComboOrderRequest, limit: float) -> tuple[Order, bool]:
        contracts = await self._legs(req)

        async def limit_problem() -> str | None:
            quotes = await self._quotes(contracts)
            return self._limit_problem(req, limit, quotes)

        bag = bag_contract(req.symbol, [c.conId for c in contracts], req.legs)
        return await self.orders._send(req, bag, self._ib_order(req, limit), limit_problem)
