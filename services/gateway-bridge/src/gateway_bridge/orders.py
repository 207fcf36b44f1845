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
from collections.abc import Awaitable, Callable
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
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.orders import (
    ComboOrderRequest,
    Fill,
    Order,
    OrderModify,
    OrderPreview,
    OrderRequest,
)

from gateway_bridge.account import is_paper
from gateway_bridge.combos import (
    ComboOrders,
    leg_known,
    preview_fields,
    remember_leg,
    suggest_limit,
)
from gateway_bridge.connection import IBSession
from gateway_bridge.events import EventPublisher
from gateway_bridge.guards import (
    check_live_allowed,
    check_quantity,
    fingerprint,
    limit_price_problem,
)
from gateway_bridge.marketdata import MarketData
from gateway_bridge.order_contracts import OrderContracts
from gateway_bridge.order_events import OrderEvents
from gateway_bridge.settings import BridgeSettings
from gateway_bridge.trades import (
    CONTRACT_AND_SIZE,
    _expiry,
    classify_fills,
    fill_from_ib,
    order_from_trade,
    request_from_trade,
    trade_from_fills,
)
from gateway_bridge.trades import map_status as map_status

log = logging.getLogger(__name__)


class OrderService(OrderEvents, OrderContracts):
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
        self._locks: dict[str, asyncio.Lock] = {}
        self._requests: dict[str, OrderRequest | ComboOrderRequest] = {}
        self._init_contracts(settings.secdef_cache_seconds)
        self.combos = ComboOrders(self)
        self._settlements: list[IBFill] = []
        self._settle_handle: asyncio.TimerHandle | None = None
        ib = session.ib
        ib.orderStatusEvent += self._on_status
        ib.openOrderEvent += self._on_open_order
        session.on_connected(self._on_connected)
        self._watch_executions()

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
    async def _market(self, contract: Contract) -> tuple[float | None, float | None]:
        """The bid and ask now (`order_quotes`: a stream's first ticks, else a snapshot)."""
        from gateway_bridge.order_quotes import bid_ask

        return await bid_ask(self.md, self.session, contract)

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
    async def _what_if(self, contract: Contract, ib_order: Any) -> Any:
        """IB's what-if of the order (None on a read-only session: it is an order message)."""
        if self.settings.ib_readonly:
            return None
        try:
            return await self.md.call(lambda: self.ib.whatIfOrderAsync(contract, ib_order))
        except RequestError as exc:
            raise ServiceError(
                422, "preview_rejected", f"IBKR rejected the what-if: {exc.message}"
            ) from None

    async def preview(self, req: OrderRequest) -> OrderPreview:
        self.session.require_ready()
        account_id = self.session.account_id or ""
        check_quantity(req, self.settings.max_contracts_per_order)
        warnings: list[str] = []
        if not is_paper(account_id) and not self.settings.allow_live_orders:
            warnings.append("live account: placing this order will be refused")
        contract = await self._qualified(req)
        priced = req.order_type != "LMT" or req.limit_price is not None
        state: Any = None
        if priced:
            # The limit is known: the quote now and IB's what-if do not wait for each other.
            (bid, ask), state = await asyncio.gather(
                self._market(contract), self._what_if(contract, self._ib_order(req))
            )
        else:
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
        if not priced:
            if suggested is None:
                raise ServiceError(
                    422,
                    "no_market",
                    "no bid/ask to price this order from: give a limit_price",
                    field="limit_price",
                )
            # The what-if runs at the price the user will be offered, never at a placeholder.
            req = req.model_copy(update={"limit_price": Decimal(str(suggested))})
            state = await self._what_if(contract, self._ib_order(req))
        if self.settings.ib_readonly:
            # A what-if is an order message: a read-only API session must not send it.
            warnings.append(
                "read-only (IB_READONLY): no what-if sent; margin and commission unknown"
            )
        return OrderPreview(
            request=req,
            **preview_fields(state, account_id, self.ib.accountValues(), bid, ask, suggested),
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
        return await self._once(
            req, lambda fills: self._done_before(req, fills), lambda: self._place_new(req)
        )

    async def _once(
        self,
        req: OrderRequest | ComboOrderRequest,
        done: Callable[[list[IBFill]], Order],
        place: Callable[[], Awaitable[tuple[Order, bool]]],
    ) -> tuple[Order, bool]:
        """Never placed twice, single order or combo: requests with the same id take turns, and
        a repeat answers with the order IB lists under that orderRef or, done before this
        connection, with what `done` makes of its executions, instead of `place` again."""
        async with self._locks.setdefault(req.client_order_id, asyncio.Lock()):
            existing = self.find(req.client_order_id)
            if existing is not None:
                self._check_same(req, existing)
                return self._order(existing), False
            fills = self._fills_for(req.client_order_id)
            if fills:
                return done(fills), False
            return await place()

    def _done_before(self, req: OrderRequest, fills: list[IBFill]) -> Order:
        """The order of a repeat whose first was done before this connection (e.g. the bridge
        restarted): IB still has today's executions with our orderRef."""
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
        return order_from_trade(trade, self._requests.get(req.client_order_id) or req)

    async def _place_new(self, req: OrderRequest) -> tuple[Order, bool]:
        contract = await self._qualified(req)

        async def limit_problem() -> str | None:
            if req.order_type != "LMT":
                return None  # a market order asks for no quote
            bid, ask = await self._market(contract)
            return limit_price_problem(req, bid, ask, self.settings.limit_price_tolerance_pct)

        return await self._send(req, contract, self._ib_order(req), limit_problem)

    async def _send(
        self,
        req: OrderRequest | ComboOrderRequest,
        contract: Contract,
        ib_order: Any,
        limit_problem: Callable[[], Awaitable[str | None]],
    ) -> tuple[Order, bool]:
        """The last steps of every placement, single or combo, inside `_once`: a limit far
        outside the market is refused unless forced (`limit_problem` is not even asked then:
        it costs a quote), the session is checked again (the checks before waited on IB), the
        pacing limiter passed, and the request remembered before IB can report the order (its
        events are described from it)."""
        if not req.force and (problem := await limit_problem()):
            raise ServiceError(
                422,
                "limit_outside_market",
                problem + " (send force=true to override)",
                field="limit_price",
            )
        self.session.require_ready()
        await self.md.limiter.acquire()
        self._requests[req.client_order_id] = req
        trade = self.ib.placeOrder(contract, ib_order)
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
