"""The order requests of one API connection: place (one contract), modify, cancel, the open
and completed orders, and the executions.

A mixin of `Session` (session.py), which owns the connection's state and output. Combo (BAG)
orders are combos.py's; fills are the engine's (`Engine.try_fill`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tws_sim import messages as m
from tws_sim import spreads
from tws_sim.contracts import SimContract
from tws_sim.lookup import resolve
from tws_sim.orders import Execution, SimOrder, touch_price
from tws_sim.requests import OrderRequest

if TYPE_CHECKING:
    from tws_sim.engine import Engine


class OrderHandlers:
    """placeOrder (one contract), cancelOrder, reqGlobalCancel, reqOpenOrders /
    reqAllOpenOrders, reqCompletedOrders, reqExecutions."""

    # What the handlers use of the connection (`Session`'s fields and output).
    engine: Engine
    client_id: int
    send: Callable[[bytes], None]
    error: Callable[[int, int, str], None]

    def req_open_orders(self, f: list[str]) -> None:
        for o in self.engine.orders.values():
            if not o.done and (
                o.client_id == self.client_id or self.client_id == 0 or f[0] == "16"
            ):
                self.send(m.open_order(o.as_fields(), o.contract, {"status": o.status}))
                self.send(m.order_status(*o.status_fields()))
        self.send(m.open_order_end())

    def req_completed_orders(self, f: list[str]) -> None:
        when = self.engine.market.now().strftime("%Y%m%d %H:%M:%S") + " UTC"
        for o in self.engine.orders.values():
            if o.done:
                self.send(m.completed_order(o.as_fields(), o.contract, o.status, o.filled, when))
        self.send(m.completed_orders_end())

    def place_order(self, req: OrderRequest) -> None:
        """placeOrder for one contract, as IB answers it: its validation errors; else a
        what-if's margin and commission, a modify of this client's working order with the
        same id, the rejection the control API asked for, or a new order (held PreSubmitted
        outside regular hours, Submitted and offered a fill inside them)."""
        c = self._order_contract(req)
        if c is None:
            return
        eng = self.engine
        eng.next_order_id = max(eng.next_order_id, req.order_id + 1)
        if req.what_if:
            self._send_what_if(req, c)
            return
        existing = eng.order_for(self.client_id, req.order_id)
        if existing is not None:
            self._modify_order(existing, req)
            return
        self._submit(self._new_order(req, c))

    def _submit(self, o: SimOrder) -> None:
        """A new order (one contract or a combo) as IB takes it: the rejection the control API
        asked for, else held PreSubmitted outside regular hours, Submitted and offered a fill
        inside them."""
        eng = self.engine
        if eng.faults.reject_next is not None:
            code, message = eng.faults.reject_next
            eng.faults.reject_next = None
            o.status = "Inactive"
            eng.orders[o.perm_id] = o
            self.error(o.order_id, code, message)
            return
        eng.orders[o.perm_id] = o
        eng.notify_order(o)
        if not eng.market.is_open():
            # Outside regular hours IB holds the order (PreSubmitted) until the open.
            return
        o.status = "Submitted"
        eng.notify_order(o)
        eng.try_fill(o)

    def _order_contract(self, req: OrderRequest) -> SimContract | None:
        """The order's contract, or None after IB's error for an order it refuses outright."""
        found = resolve(self.engine.market, req.contract)
        if len(found) != 1:
            self.error(req.order_id, 200, "No security definition has been found for the request")
            return None
        problem = self._order_problem(req)
        if problem is not None:
            self.error(req.order_id, *problem)
            return None
        c = found[0]
        if self._off_tick(req, c):
            return None
        return c

    def _order_problem(self, req: OrderRequest, credit: bool = False) -> tuple[int, str] | None:
        """IB's error (code, message) for an order it cannot validate, None when valid.

        A combo's net limit (`credit`) may be zero or negative (a credit); it must be there."""
        if req.action not in ("BUY", "SELL"):
            return 321, f"Error validating request: invalid action {req.action}"
        if req.quantity <= 0:
            return 321, "Error validating request: order size must be > 0"
        if req.order_type not in ("LMT", "MKT"):
            return (
                387,
                f"Unsupported order type for this exchange and security type: {req.order_type}",
            )
        if req.order_type == "LMT" and (
            req.lmt_price is None or (not credit and req.lmt_price <= 0)
        ):
            return 321, "Error validating request: limit price is missing"
        account = self.engine.account.account_id
        if req.account and req.account != account:
            return 321, f"Error validating request: unknown account {req.account}"
        return None

    def _off_tick(self, req: OrderRequest, c: SimContract) -> bool:
        """An option limit off its tick grid: error 110, and a placed order ends Inactive."""
        if not (req.order_type == "LMT" and c.is_option and req.lmt_price is not None):
            return False
        eng = self.engine
        liquidity = eng.market.by_symbol[c.symbol].liquidity
        if spreads.off_tick_neighbours(liquidity, req.lmt_price) is None:
            return False
        # Real IB: the order is never created (a placed one ends Inactive).
        self.error(
            req.order_id,
            110,
            "The price does not conform to the minimum price variation for this contract.",
        )
        if not req.what_if:
            o = self._new_order(req, c)
            o.status = "Inactive"
            eng.orders[o.perm_id] = o
            # ib_insync counts 110 as a warning: the Inactive status ends the trade.
            eng.notify_order(o)
        return True

    def _send_what_if(self, req: OrderRequest, c: SimContract) -> None:
        """The what-if's openOrder: margin before/change/after and commission, at the limit
        (a market order at the touch it would cross); no order is created."""
        eng = self.engine
        side = "BOT" if req.action == "BUY" else "SLD"
        bid, ask = touch_price(eng.market, c, req.action)
        px = req.lmt_price if req.lmt_price is not None else (ask if side == "BOT" else bid)
        state = {"status": "PreSubmitted", **eng.account.what_if([(c, side, req.quantity, px)])}
        fields = {
            "order_id": req.order_id,
            "perm_id": 0,
            "client_id": self.client_id,
            "action": req.action,
            "quantity": req.quantity,
            "order_type": req.order_type,
            "lmt_price": req.lmt_price,
            "aux_price": req.aux_price,
            "tif": req.tif,
            "account": eng.account.account_id,
            "order_ref": req.order_ref,
            "what_if": True,
        }
        self.send(m.open_order(fields, c, state))

    def _modify_order(self, existing: SimOrder, req: OrderRequest) -> None:
        """A placeOrder with a working order's id modifies it (error 104 once it is done)."""
        if existing.done:
            self.error(req.order_id, 104, f"Can't modify a filled order. ({existing.status})")
            return
        existing.quantity = req.quantity
        existing.lmt_price = req.lmt_price
        existing.order_type = req.order_type
        existing.order_ref = req.order_ref
        existing.tif = req.tif
        self.engine.notify_order(existing)
        self.engine.try_fill(existing)

    def _new_order(self, req: OrderRequest, c: SimContract, perm_id: int | None = None) -> SimOrder:
        return SimOrder(
            order_id=req.order_id,
            perm_id=self.engine.new_perm_id() if perm_id is None else perm_id,
            client_id=self.client_id,
            contract=c,
            action=req.action,
            quantity=req.quantity,
            order_type=req.order_type,
            lmt_price=req.lmt_price,
            aux_price=req.aux_price,
            tif=req.tif,
            account=self.engine.account.account_id,
            order_ref=req.order_ref,
            open_close=req.open_close,
        )

    def cancel_order(self, f: list[str]) -> None:
        order_id = int(f[2])
        o = self.engine.order_for(self.client_id, order_id)
        if o is None:
            self.error(order_id, 135, f"Can't find order with id ={order_id}")
            return
        if o.done:
            self.error(
                order_id,
                10148,
                f"OrderId {order_id} that needs to be cancelled cannot "
                f"be cancelled, state: {o.status}.",
            )
            return
        o.status = "Cancelled"
        self.engine.notify_order(o)
        self.error(order_id, 202, "Order Canceled - reason:")

    def req_global_cancel(self, f: list[str]) -> None:
        for o in self.engine.orders.values():
            if not o.done:
                o.status = "Cancelled"
                self.engine.notify_order(o)

    def req_executions(self, f: list[str]) -> None:
        req_id = int(f[2])
        client, _acct, _time, symbol, sec_type, _exch, side = f[3:10]
        for ex in self.engine.executions:
            if client and int(client) not in (0, ex.client_id) and ex.client_id != 0:
                continue
            if symbol and ex.contract.symbol != symbol.upper():
                continue
            if sec_type and ex.contract.sec_type != sec_type.upper():
                continue
            if side and not ex.side.startswith(side.upper()[:1]):
                continue
            self.send_execution(req_id, ex)
            self.send(m.commission_report(ex.exec_id, ex.commission, ex.realized))
        self.send(m.exec_details_end(req_id))

    def send_execution(self, req_id: int, ex: Execution) -> None:
        self.send(
            m.exec_details(
                req_id,
                ex.order_id,
                ex.contract,
                ex.exec_id,
                ex.time_str,
                self.engine.account.account_id,
                ex.side,
                ex.shares,
                ex.price,
                ex.perm_id,
                ex.client_id,
                ex.cum_qty,
                ex.avg_price,
                ex.order_ref,
            )
        )
