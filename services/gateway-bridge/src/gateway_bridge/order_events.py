"""An order's events on NATS: every status change, fill and commission of an order placed
with an orderRef (`ibkr.order.<id>`), and every live execution (`ibkr.execution.<exec_id>`),
assignments and expiries included, which belong to no API order."""

from __future__ import annotations

import asyncio

from ib_insync import Fill as IBFill
from ib_insync import Trade
from wheeldesk import subjects
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.orders import ExecutionEvent, Fill, OrderEvent

from gateway_bridge.trades import classify_fills, fill_from_ib


class OrderEvents:
    """Mixed into `OrderService` (its publisher, session and trades)."""

    def _watch_executions(self) -> None:
        """See every live execution, including assignments that belong to no API order.

        `ib.execDetailsEvent`/`commissionReportEvent` fire only for fills of this client's
        trades, but ib_insync records every execution in `ib.fills()`: after each batch of IB
        messages (`ib.updateEvent`) the bridge publishes the fills and commissions it has not
        seen yet. A fill answering reqExecutions (ours, or ib_insync's on connect) is not a
        live one: ib_insync stamps it with its execution's own time (the very object), a live
        one with the moment it arrived (`test_execution_events.py` holds it to that).

        A batch walks only what it can have changed, not the session's fills: ib_insync only
        appends to that list (a new one on reconnect), so the fills past the ones walked
        are the new ones, and a commission report fills in its fill's report in place, so
        of the walked fills only those still without one are looked at again.
        """
        self._seen_fills: set[str] = set()
        self._seen_commissions: set[str] = set()
        self._walked = 0  # how many of ib.fills() were walked...
        self._last_walked: IBFill | None = None  # ...and the last of them (a reset's witness)
        self._awaiting_commission: dict[str, IBFill] = {}
        self.ib.updateEvent += self._scan_fills

    def _scan_fills(self) -> None:
        fills = self.ib.fills()
        walked = self._walked
        if walked > len(fills) or (walked and fills[walked - 1] is not self._last_walked):
            walked = 0  # ib_insync started its list anew (a reconnect): walk it all
            self._awaiting_commission = {}
        self._walked = len(fills)
        self._last_walked = fills[-1] if fills else None
        # Commissions first: those fills come before the new ones in ib_insync's list.
        for exec_id, fill in list(self._awaiting_commission.items()):
            if fill.commissionReport.execId:
                del self._awaiting_commission[exec_id]
                self._seen_commissions.add(exec_id)
                self._on_fill(fill, "commission")
        for fill in fills[walked:]:
            exec_id = fill.execution.execId
            if exec_id not in self._seen_fills:
                self._seen_fills.add(exec_id)
                live = fill.time is not fill.execution.time
                # a combo's own report (BAG) is no fill: its legs carry them
                if live and fill.contract.secType != "BAG":
                    self._on_fill(fill, "fill")
            if exec_id in self._seen_commissions:
                continue
            if fill.commissionReport.execId:
                self._seen_commissions.add(exec_id)
                self._on_fill(fill, "commission")
            else:
                self._awaiting_commission[exec_id] = fill

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
