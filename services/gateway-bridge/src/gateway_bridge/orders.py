"""Orders: guarded, idempotent on `client_order_id`, and never placed twice.

The client's id is written into IB's `orderRef`, so IB itself remembers it: a retry
after an HTTP timeout, or after the bridge restarted, finds the order in IB's open
or completed orders (or its executions) instead of placing a second one. Requests
with the same id are serialised by a per-id lock, so two racing retries cannot both
miss the first. Guards run before anything reaches IB: live accounts are refused
unless allowed, the contract count is capped, and a limit price far outside the
market is refused unless forced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from datetime import date
from decimal import Decimal
from typing import Any

from ib_insync import (
    Contract,
    LimitOrder,
    MarketOrder,
    RequestError,
    Trade,
)
from ib_insync import Fill as IBFill
from wheeldesk import subjects
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.orders import (
    ComboOrderRequest,
    ExecutionEvent,
    Fill,
    Order,
    OrderEvent,
    OrderModify,
    OrderPreview,
    OrderRequest,
)

from gateway_bridge.account import account_from_values, is_paper
from gateway_bridge.combos import (
    ComboOrders,
    combo_fingerprint,
    leg_known,
    remember_leg,
    suggest_limit,
)
from gateway_bridge.connection import IBSession
from gateway_bridge.events import EventPublisher
from gateway_bridge.marketdata import MarketData, num
from gateway_bridge.settings import BridgeSettings
from gateway_bridge.trades import (
    CONTRACT_AND_SIZE,
    _expiry,
    build_contract,
    classify_fills,
    fill_from_ib,
    order_from_trade,
    request_from_trade,
    trade_from_fills,
)
from gateway_bridge.trades import map_status as map_status

log = logging.getLogger(__name__)

UNSET = 1.7976931348623157e308  # IB's UNSET_DOUBLE


# ---- guards (plain functions, unit-tested) --------------------------------------------------
def check_live_allowed(account_id: str | None, allow_live: bool) -> None:
    if not is_paper(account_id) and not allow_live:
        raise ServiceError(
            403,
            "live_account_refused",
            f"account {account_id or '?'} is a live account; orders are refused unless "
            "ALLOW_LIVE_ORDERS=true",
        )


def check_quantity(req: OrderRequest, max_contracts: int) -> None:
    limit = max_contracts if req.sec_type == "OPT" else max_contracts * 100
    unit = "contracts" if req.sec_type == "OPT" else "shares"
    if req.quantity > limit:
        raise ServiceError(
            422,
            "quantity_too_large",
            f"{req.quantity} {unit} exceeds the per-order limit of {limit} "
            "(MAX_CONTRACTS_PER_ORDER)",
            field="quantity",
        )


def limit_price_problem(
    req: OrderRequest, bid: float | None, ask: float | None, tolerance_pct: float
) -> str | None:
    """Why a limit price is too far outside the market, or None when it is acceptable."""
    if req.order_type != "LMT" or req.limit_price is None:
        return None
    if bid is None or ask is None or ask <= 0:
        return None
    price = float(req.limit_price)
    mid = (bid + ask) / 2
    slack = mid * tolerance_pct / 100.0
    if price < bid - slack:
        return f"limit {price:g} is below the bid {bid:g} by more than {tolerance_pct:g}% of mid"
    if price > ask + slack:
        return f"limit {price:g} is above the ask {ask:g} by more than {tolerance_pct:g}% of mid"
    return None


def off_tick_problem(price: float, increments: list[tuple[float, float]]) -> str | None:
    """Why `price` is off the tick of a market rule ((lowEdge, increment) pairs), or None."""
    steps = [inc for edge, inc in sorted(increments) if price >= edge - 1e-9]
    if not steps:
        return None
    tick = steps[-1]
    n = price / tick
    if abs(n - round(n)) < 1e-6:
        return None
    low, high = math.floor(n) * tick, math.ceil(n) * tick
    return (
        f"{price:.2f} is not on the ${tick:.2f} tick for this contract: use {low:.2f} or {high:.2f}"
    )


def fingerprint(req: OrderRequest | ComboOrderRequest) -> tuple[Any, ...]:
    """What makes two submissions the same order (force and ids excluded)."""
    if isinstance(req, ComboOrderRequest):
        return combo_fingerprint(req)
    opt = req.sec_type == "OPT"
    return (
        req.symbol.upper(),
        req.sec_type,
        req.expiry if opt else None,
        float(req.strike) if opt and req.strike is not None else None,
        req.right if opt else None,
        req.action,
        int(req.quantity),
        req.order_type,
        round(float(req.limit_price), 4) if req.limit_price is not None else None,
        req.tif,
    )


class OrderService:
    def __init__(
        self,
        settings: BridgeSettings,
        session: IBSession,
        md: MarketData,
        publisher: EventPublisher | None,
    ) -> None:
        self.settings = settings
        self.session = session
        self.md = md
        self.publisher = publisher
        # marketRuleId -> its price increments; rules never change within a session.
        self._market_rules: dict[int, list[Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._requests: dict[str, OrderRequest | ComboOrderRequest] = {}
        # conId -> its marketRuleIds (from contract details): the tick grid of a suggestion.
        self._rule_ids: dict[int, str] = {}
        self.combos = ComboOrders(self)
        self._settlements: list[IBFill] = []
        self._settle_handle: asyncio.TimerHandle | None = None
        ib = session.ib
        ib.orderStatusEvent += self._on_status
        ib.openOrderEvent += self._on_open_order
        session.on_connected(self._on_connected)
        self._hook_wrapper()

    @property
    def ib(self):  # type: ignore[no-untyped-def]
        return self.session.ib

    # ---- lookups -------------------------------------------------------------------------
    def _trades(self) -> list[Trade]:
        return [t for t in self.ib.trades() if not t.order.whatIf]

    def find(self, client_order_id: str) -> Trade | None:
        matches = [t for t in self._trades() if t.order.orderRef == client_order_id]
        if matches:
            # Prefer the live one (open orders carry the current status).
            return sorted(matches, key=lambda t: (t.order.orderId != 0, len(t.log)))[-1]
        return None

    def _fills_for(self, client_order_id: str) -> list[IBFill]:
        return [f for f in self.ib.fills() if f.execution.orderRef == client_order_id]

    def _order(self, trade: Trade) -> Order:
        order = order_from_trade(trade, self._requests.get(trade.order.orderRef))
        if isinstance(order.request, ComboOrderRequest) and len(order.request.legs) < 2:
            # A combo IB reported after a restart, its legs (conIds) still being looked up.
            raise ServiceError(
                503,
                "ib_unavailable",
                f"order {order.order_id}: the combo's legs are still being looked up at IBKR",
                headers={"Retry-After": "1"},
            )
        return order

    def _on_connected(self) -> None:
        """The working orders IB lists at connect come without events: look up the legs of
        every combo among them (in the background; the connect does not wait)."""
        for trade in self.ib.trades():
            self._on_open_order(trade)

    def _on_open_order(self, trade: Trade) -> None:
        """A combo IB reports (after a bridge restart) names its legs by conId only: look
        them up once so the order can be described again."""
        if trade.contract.secType != "BAG":
            return
        unknown = [leg.conId for leg in trade.contract.comboLegs or [] if not leg_known(leg.conId)]
        if unknown:
            asyncio.get_running_loop().create_task(self._resolve_legs(unknown))

    async def _resolve_legs(self, con_ids: list[int]) -> None:
        for cid in con_ids:
            try:
                details = await self.md.call(
                    lambda cid=cid: self.ib.reqContractDetailsAsync(Contract(conId=cid))
                )
            except Exception as exc:  # the next openOrder tries again
                log.warning("combo leg %s not looked up: %s", cid, exc)
                continue
            if details:
                c = details[0].contract
                remember_leg(
                    cid, _expiry(c.lastTradeDateOrContractMonth), float(c.strike), c.right[:1]
                )

    def list(self) -> list[Order]:
        self.session.require_ready()
        seen: set[int] = set()
        out = []
        for t in self._trades():
            key = t.order.permId or id(t)
            if key in seen:
                continue
            seen.add(key)
            try:
                out.append(self._order(t))
            except ServiceError:
                continue  # a combo whose legs are still being looked up: listed once known
        listed = {o.client_order_id for o in out}
        done_refs = {f.execution.orderRef for f in self.ib.fills() if f.execution.orderRef}
        for ref in sorted(done_refs - listed):
            out.append(self._order(trade_from_fills(self._fills_for(ref))))
        out.sort(key=lambda o: o.created, reverse=True)
        return out

    def get_trade(self, ident: str) -> Trade:
        self.session.require_ready()
        trades = self._trades()
        if ident.isdigit():
            n = int(ident)
            for t in trades:
                if t.order.orderId == n and n:
                    return t
            for t in trades:
                if t.order.permId == n:
                    return t
        trade = self.find(ident)
        if trade is None:
            fills = self._fills_for(ident) or [
                f
                for f in self.ib.fills()
                if ident.isdigit() and int(ident) in (f.execution.orderId, f.execution.permId)
            ]
            if fills and fills[0].execution.orderRef:
                return trade_from_fills(self._fills_for(fills[0].execution.orderRef))
            raise ServiceError(404, "unknown_order", f"no order {ident!r}", field="id")
        return trade

    def get(self, ident: str) -> Order:
        return self._order(self.get_trade(ident))

    # ---- checks shared by preview and place ------------------------------------------------
    async def _qualified(self, req: OrderRequest) -> Contract:
        contract = build_contract(req)
        try:
            details = await self.md.call(lambda: self.ib.reqContractDetailsAsync(contract))
        except RequestError as exc:
            if exc.code == 200:
                details = []
            else:
                raise
        if not details:
            what = "option" if req.sec_type == "OPT" else "stock"
            raise ServiceError(
                404,
                "unknown_contract",
                f"IBKR knows no {what} {req.symbol}"
                + (f" {req.expiry} {req.strike:g}{req.right}" if req.sec_type == "OPT" else ""),
                field="symbol",
            )
        if req.sec_type == "OPT" and req.order_type == "LMT" and req.limit_price is not None:
            await self._check_tick(float(req.limit_price), details[0].marketRuleIds or "")
        c = details[0].contract
        self._rule_ids[c.conId] = details[0].marketRuleIds or ""
        c.lastTradeDateOrContractMonth = (c.lastTradeDateOrContractMonth or "").split(" ")[0]
        c.exchange = "SMART"
        return c

    async def _increments(self, rule_ids: str) -> list[tuple[float, float]]:
        """The (lowEdge, increment) pairs of a contract's SMART market rule (cached)."""
        ids = [int(x) for x in rule_ids.split(",") if x.strip().isdigit()]
        if not ids:
            return []
        rule_id = ids[0]  # SMART's rule: the first of the valid exchanges
        rules = self._market_rules
        if rule_id not in rules:
            rules[rule_id] = list(
                await self.md.call(lambda: self.ib.reqMarketRuleAsync(rule_id)) or []
            )
        return [(r.lowEdge, r.increment) for r in rules[rule_id]]

    async def _check_tick(self, price: float, rule_ids: str) -> None:
        """422 for a limit off the contract's tick, before IB answers it with error 110."""
        increments = await self._increments(rule_ids)
        if not increments:
            return
        problem = off_tick_problem(price, increments)
        if problem:
            raise ServiceError(422, "limit_off_tick", problem, field="limit_price")

    async def _market(self, contract: Contract) -> tuple[float | None, float | None]:
        try:
            t = await self.md.snapshot(contract, owner="order")
        except ServiceError:
            raise
        except Exception as exc:  # no quote: the check cannot run, the preview warns
            log.warning("no quote for order check: %s", exc)
            return None, None
        return num(t.bid), num(t.ask)

    def _ib_order(self, req: OrderRequest) -> Any:
        if req.order_type == "LMT":
            assert req.limit_price is not None
            order = LimitOrder(req.action, req.quantity, float(req.limit_price))
        else:
            order = MarketOrder(req.action, req.quantity)
        order.orderRef = req.client_order_id
        order.tif = req.tif
        order.account = self.session.account_id or ""
        order.transmit = True
        return order

    # ---- preview -------------------------------------------------------------------------
    async def preview(self, req: OrderRequest) -> OrderPreview:
        self.session.require_ready()
        account_id = self.session.account_id or ""
        check_quantity(req, self.settings.max_contracts_per_order)
        warnings: list[str] = []
        if not is_paper(account_id) and not self.settings.allow_live_orders:
            warnings.append("live account: placing this order will be refused")
        contract = await self._qualified(req)
        bid, ask = await self._market(contract)
        problem = limit_price_problem(req, bid, ask, self.settings.limit_price_tolerance_pct)
        if problem:
            warnings.append(problem + ("" if req.force else "; placing it needs force"))
        if bid is None or ask is None:
            warnings.append("no bid/ask available to check the limit price against")
        increments = (
            await self._increments(self._rule_ids.get(contract.conId, ""))
            if req.sec_type == "OPT"
            else [(0.0, 0.01)]
        )
        suggested = suggest_limit(bid, ask, req.action, increments or [(0.0, 0.01)])
        if req.order_type == "LMT" and req.limit_price is None:
            if suggested is None:
                raise ServiceError(
                    422,
                    "no_market",
                    "no bid/ask to price this order from: give a limit_price",
                    field="limit_price",
                )
            # The what-if runs at the price the user will be offered, never at a placeholder.
            req = req.model_copy(update={"limit_price": Decimal(str(suggested))})
        state: Any = None
        if self.settings.ib_readonly:
            # A what-if is an order message: a read-only API session must not send it.
            warnings.append(
                "read-only (IB_READONLY): no what-if sent; margin and commission unknown"
            )
        else:
            try:
                state = await self.md.call(
                    lambda: self.ib.whatIfOrderAsync(contract, self._ib_order(req))
                )
            except RequestError as exc:
                raise ServiceError(
                    422, "preview_rejected", f"IBKR rejected the what-if: {exc.message}"
                ) from None
        acc = account_from_values(account_id, self.ib.accountValues())

        def f(value: Any) -> float | None:
            v = num(value)
            return None if v is None or v == UNSET or abs(v) > 1e300 else v

        init_change = f(getattr(state, "initMarginChange", None))
        bp_before = acc.buying_power
        bp_after = None
        if bp_before is not None and init_change is not None:
            bp_after = round(bp_before - init_change, 2)
        return OrderPreview(
            request=req,
            account_id=account_id,
            is_paper=is_paper(account_id),
            commission=f(getattr(state, "commission", None)),
            min_commission=f(getattr(state, "minCommission", None)),
            max_commission=f(getattr(state, "maxCommission", None)),
            init_margin_change=init_change,
            maint_margin_change=f(getattr(state, "maintMarginChange", None)),
            equity_with_loan_change=f(getattr(state, "equityWithLoanChange", None)),
            buying_power_before=bp_before,
            buying_power_after=bp_after,
            bid=bid,
            ask=ask,
            mid=round((bid + ask) / 2, 4) if bid is not None and ask is not None else None,
            suggested_limit=suggested,
            warnings=warnings,
        )

    # ---- place ---------------------------------------------------------------------------
    async def place(self, req: OrderRequest) -> tuple[Order, bool]:
        """Place once; returns (order, created). A repeat returns the existing order."""
        self.session.require_ready()
        check_live_allowed(self.session.account_id, self.settings.allow_live_orders)
        check_quantity(req, self.settings.max_contracts_per_order)
        if self.settings.ib_readonly:
            raise ServiceError(403, "read_only", "the bridge is connected read-only (IB_READONLY)")
        if req.order_type == "LMT" and req.limit_price is None:
            raise ServiceError(
                422, "invalid", "limit_price is required for LMT orders", field="limit_price"
            )
        lock = self._locks.setdefault(req.client_order_id, asyncio.Lock())
        async with lock:
            existing = self.find(req.client_order_id)
            if existing is not None:
                self._check_same(req, existing)
                return self._order(existing), False
            fills = self._fills_for(req.client_order_id)
            if fills:
                # Done before this connection (e.g. the bridge restarted): IB still has
                # today's executions with our orderRef.
                trade = trade_from_fills(fills)
                known = fingerprint(request_from_trade(trade))[:CONTRACT_AND_SIZE]
                if known != fingerprint(req)[:CONTRACT_AND_SIZE]:
                    raise ServiceError(
                        409,
                        "duplicate_client_order_id",
                        f"client_order_id {req.client_order_id} was already executed for a "
                        f"different order (exec {fills[0].execution.execId})",
                        field="client_order_id",
                    )
                return order_from_trade(
                    trade, self._requests.get(req.client_order_id) or req
                ), False
            contract = await self._qualified(req)
            if req.order_type == "LMT" and not req.force:
                bid, ask = await self._market(contract)
                problem = limit_price_problem(
                    req, bid, ask, self.settings.limit_price_tolerance_pct
                )
                if problem:
                    raise ServiceError(
                        422,
                        "limit_outside_market",
                        problem + " (send force=true to override)",
                        field="limit_price",
                    )
            self.session.require_ready()
            await self.md.limiter.acquire()
            self._requests[req.client_order_id] = req
            trade = self.ib.placeOrder(contract, self._ib_order(req))
            await self._settle(trade)
            return self._order(trade), True

    async def _settle(self, trade: Trade, timeout: float = 10.0) -> None:
        """Wait until IB acknowledged (or rejected) the order, so the answer is meaningful."""
        deadline = asyncio.get_running_loop().time() + timeout
        while trade.orderStatus.status in ("PendingSubmit", "ApiPending", ""):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or not self.ib.isConnected():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(trade.statusEvent, min(remaining, 1.0))

    def _check_same(self, req: OrderRequest, trade: Trade) -> None:
        original = self._requests.get(req.client_order_id) or request_from_trade(trade)
        if fingerprint(original) != fingerprint(req):
            raise ServiceError(
                409,
                "duplicate_client_order_id",
                f"client_order_id {req.client_order_id} was already used for a different order "
                f"(order {trade.order.orderId or trade.order.permId})",
                field="client_order_id",
            )

    # ---- modify (re-price) ------------------------------------------------------------------
    async def modify(self, ident: str, body: OrderModify) -> Order:
        """A new limit (or a step toward the market) for a working order: `repricing`."""
        from gateway_bridge.repricing import modify

        return await modify(self, ident, body)

    # ---- cancel --------------------------------------------------------------------------
    async def cancel(self, ident: str) -> Order:
        trade = self.get_trade(ident)
        if trade.isDone():
            raise ServiceError(
                409,
                "order_not_cancellable",
                f"order {ident} is already {trade.orderStatus.status.lower()}",
            )
        if self.settings.ib_readonly:
            raise ServiceError(403, "read_only", "the bridge is connected read-only (IB_READONLY)")
        await self.md.limiter.acquire()
        self.ib.cancelOrder(trade.order)
        deadline = asyncio.get_running_loop().time() + 10
        while not trade.isDone() and asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(trade.statusEvent, 1.0)
        return self._order(trade)

    # ---- executions ----------------------------------------------------------------------
    async def executions(self, since: date | None = None) -> list[Fill]:
        self.session.require_ready()
        fills = await self.md.call(lambda: self.ib.reqExecutionsAsync())
        by_id = {f.execution.execId: f for f in self.ib.fills() if f.contract.secType != "BAG"}
        for f in fills or []:
            if f.contract.secType != "BAG":
                by_id.setdefault(f.execution.execId, f)
        out = classify_fills([fill_from_ib(f, self.session.account_id) for f in by_id.values()])
        if since is not None:
            out = [f for f in out if f.time.date() >= since]
        out.sort(key=lambda f: f.time)
        return out

    # ---- events --------------------------------------------------------------------------
    def _hook_wrapper(self) -> None:
        """See every live execution, including assignments that belong to no API order."""
        wrapper = self.ib.wrapper
        orig_exec = wrapper.execDetails
        orig_comm = wrapper.commissionReport

        def exec_details(req_id: int, contract: Contract, execution: Any) -> None:
            if contract.secType == "BAG":  # a combo's own report: its legs carry the fills
                orig_exec(req_id, contract, execution)
                return
            live = req_id not in wrapper._futures
            known = execution.execId in wrapper.fills
            orig_exec(req_id, contract, execution)
            if live and not known:
                fill = wrapper.fills.get(execution.execId)
                if fill is not None:
                    self._on_fill(fill, "fill")

        def commission_report(report: Any) -> None:
            orig_comm(report)
            fill = wrapper.fills.get(report.execId)
            if fill is not None:
                self._on_fill(fill, "commission")

        wrapper.execDetails = exec_details
        wrapper.commissionReport = commission_report

    def _publish_order(self, trade: Trade, kind: str, fill: Fill | None = None) -> None:
        if self.publisher is None or not trade.order.orderRef:
            return
        try:
            order = self._order(trade)
        except ServiceError:
            return  # a combo's legs still being looked up: its next event carries them
        event = OrderEvent(kind=kind, order=order, fill=fill)  # type: ignore[arg-type]
        msg_id = f"order:{order.order_id}:{kind}:{order.ib_status}:{order.filled}"
        if fill is not None:
            msg_id = f"order:{order.order_id}:{kind}:{fill.exec_id}"
        self.publisher.spawn(subjects.order(order.order_id), event, msg_id)

    def _publish_settlements(self) -> None:
        self._settle_handle = None
        batch, self._settlements = self._settlements, []
        fills = classify_fills([fill_from_ib(f, self.session.account_id) for f in batch])
        for fill in fills:
            if self.publisher is not None:
                self.publisher.spawn(
                    subjects.execution(fill.exec_id),
                    ExecutionEvent(fill=fill),
                    f"exec:{fill.exec_id}:fill",
                )

    def _on_status(self, trade: Trade) -> None:
        self._publish_order(trade, "status")

    def _on_fill(self, ib_fill: IBFill, kind: str) -> None:
        if self.publisher is None:
            return
        ex = ib_fill.execution
        if not ex.orderId and not ex.orderRef:
            # A settlement leg: wait briefly for its sibling (stock delivery) to name it.
            if kind == "fill":
                self._settlements.append(ib_fill)
                if self._settle_handle is None:
                    loop = asyncio.get_running_loop()
                    self._settle_handle = loop.call_later(0.5, self._publish_settlements)
            return
        fill = fill_from_ib(ib_fill, self.session.account_id)
        self.publisher.spawn(
            subjects.execution(fill.exec_id),
            ExecutionEvent(fill=fill),
            f"exec:{fill.exec_id}:{kind}",
        )
        # The order this fill belongs to, through the public trade list (not the wrapper's map).
        trade = next(
            (t for t in self.ib.trades() if ex.permId and t.order.permId == ex.permId), None
        )
        if trade is not None:
            self._publish_order(trade, kind, fill)
