"""IB's trades, orders and executions as the bridge's models, and back.

Pure functions (no IB session): the status mapping, a fill as a `Fill`, a request rebuilt from
what IB holds after a restart, an order from its trade, a done order rebuilt from its
executions, and a request's IB contract. Combos (BAG) are described from their legs
(`combos`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ib_insync import Contract, Option, Stock, Trade, TradeLogEntry
from ib_insync import Fill as IBFill
from ib_insync import Order as IBOrder
from ib_insync import OrderStatus as IBOrderStatus
from wheeldesk.schemas.orders import ComboOrderRequest, Fill, Order, OrderRequest, OrderStatus

from gateway_bridge.combos import combo_of_fills, combo_request_from_trade
from gateway_bridge.ibvalues import UNSET, num


def map_status(
    ib_status: str, filled: float, rejected: bool, quantity: float | None = None
) -> OrderStatus:
    """Our status of an IB order. IB reports an execution before the order's "Filled": an
    execution that completes the order's quantity is its fill, never a passing "partially
    filled" (the order's history would show one for a one-contract order)."""
    if ib_status == "Filled" or (quantity and filled >= quantity - 1e-9):
        return OrderStatus.FILLED
    if ib_status in ("Cancelled", "ApiCancelled", "Inactive"):
        return OrderStatus.REJECTED if rejected else OrderStatus.CANCELLED
    if filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    if ib_status in ("Submitted", "PreSubmitted"):
        return OrderStatus.SUBMITTED
    return OrderStatus.PENDING


def _expiry(value: str) -> date | None:
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date() if value else None
    except ValueError:
        return None


def execution_kind(contract: Contract, execution: Any) -> str:
    """IB reports assignments/exercises/expiries as executions without an API order."""
    tags = f"{execution.exchange or ''} {execution.orderRef or ''}".lower()
    if "assign" in tags:
        return "assignment"
    if "exerc" in tags:
        return "exercise"
    if "expir" in tags or "lapse" in tags:
        return "expiration"
    return "trade"


def classify_fills(fills: list[Fill]) -> list[Fill]:
    """Name expiry settlements the way a wheel trader reads them.

    IB reports them as executions with no API order: the option leg closes at price 0
    and, when it was in the money, a stock leg of quantity × multiplier at the strike
    follows. Short option + delivery = assignment, long option + delivery = exercise,
    no delivery = expiration (worthless)."""
    settlement = [
        f for f in fills if not f.order_id and not f.client_order_id and f.kind == "trade"
    ]
    stock_legs = [f for f in settlement if f.sec_type == "STK"]
    kinds: dict[str, str] = {}
    used: set[str] = set()
    for f in settlement:
        if f.sec_type != "OPT" or f.price != 0:
            continue
        match = next(
            (
                s
                for s in stock_legs
                if s.exec_id not in used
                and s.symbol == f.symbol
                and f.strike is not None
                and abs(s.price - f.strike) < 1e-6
                and abs(s.quantity - f.quantity * f.multiplier) < 1e-6
                and s.time.date() == f.time.date()
            ),
            None,
        )
        if match is None:
            kinds[f.exec_id] = "expiration"
            continue
        used.add(match.exec_id)
        kind = "assignment" if f.side == "BOT" else "exercise"
        kinds[f.exec_id] = kinds[match.exec_id] = kind
    return [
        f.model_copy(update={"kind": kinds[f.exec_id]}) if f.exec_id in kinds else f for f in fills
    ]


def fill_from_ib(fill: IBFill, account_id: str | None = None) -> Fill:
    c, ex, report = fill.contract, fill.execution, fill.commissionReport
    opt = c.secType == "OPT"
    commission = num(report.commission) if report and report.commission not in (0, UNSET) else None
    realized = num(report.realizedPNL) if report and report.realizedPNL not in (UNSET,) else None
    return Fill(
        exec_id=ex.execId,
        order_id=ex.orderId or None,
        perm_id=ex.permId or None,
        client_order_id=ex.orderRef or None,
        account_id=ex.acctNumber or account_id,
        time=ex.time if isinstance(ex.time, datetime) else fill.time,
        symbol=c.symbol,
        sec_type="OPT" if opt else "STK",
        expiry=_expiry(c.lastTradeDateOrContractMonth) if opt else None,
        strike=float(c.strike) if opt else None,
        right=(c.right[:1] if c.right else None) if opt else None,
        multiplier=int(float(c.multiplier or 100)) if opt else 1,
        side="BOT" if ex.side.upper().startswith("B") else "SLD",
        quantity=float(ex.shares),
        price=float(ex.price),
        commission=commission,
        realized_pnl=realized if realized else None,
        exchange=ex.exchange or None,
        kind=execution_kind(c, ex),  # type: ignore[arg-type]
    )


def request_from_trade(trade: Trade) -> OrderRequest | ComboOrderRequest:
    """Rebuild the request from what IB holds (after a bridge restart)."""
    c, o = trade.contract, trade.order
    if c.secType == "BAG":
        return combo_request_from_trade(trade)
    opt = c.secType == "OPT"
    lmt = o.lmtPrice if o.orderType == "LMT" and o.lmtPrice not in (None, UNSET) else None
    return OrderRequest.model_construct(
        client_order_id=o.orderRef,
        symbol=c.symbol,
        sec_type="OPT" if opt else "STK",
        expiry=_expiry(c.lastTradeDateOrContractMonth) if opt else None,
        strike=float(c.strike) if opt else None,
        right=(c.right[:1] if c.right else None) if opt else None,
        action="BUY" if o.action.upper().startswith("B") else "SELL",
        quantity=int(float(o.totalQuantity)),
        order_type="MKT" if o.orderType == "MKT" else "LMT",
        limit_price=Decimal(str(round(lmt, 4))) if lmt is not None else None,
        tif="GTC" if o.tif == "GTC" else "DAY",
        force=False,
    )


def order_from_trade(
    trade: Trade, original: OrderRequest | ComboOrderRequest | None = None
) -> Order:
    o, s = trade.order, trade.orderStatus
    errors = [e for e in trade.log if e.errorCode and e.errorCode not in (0, 202, 10148)]
    rejected = bool(errors) and s.status in ("Cancelled", "Inactive", "ApiCancelled")
    # A combo's fills are its legs' executions (IB may also report one for the BAG itself:
    # it is the same trade again, not a position).
    fills = [fill_from_ib(f) for f in trade.fills if f.contract.secType != "BAG"]
    combo = trade.contract.secType == "BAG"
    commissions = [f.commission for f in fills if f.commission is not None]
    filled = float(s.filled or 0) or (0.0 if combo else sum(f.quantity for f in fills))
    times = [e.time for e in trade.log if isinstance(e.time, datetime)]
    request = original or request_from_trade(trade)
    return Order(
        order_id=o.orderId or o.permId,
        perm_id=o.permId or None,
        client_order_id=o.orderRef or request.client_order_id,
        account_id=o.account or None,
        request=request,
        status=map_status(s.status, filled, rejected, float(o.totalQuantity or 0)),
        ib_status=s.status or None,
        filled=filled,
        remaining=float(s.remaining if s.remaining not in (None, UNSET) else 0)
        if s.status not in ("Filled", "Cancelled", "ApiCancelled", "Inactive")
        else 0.0,
        avg_fill_price=num(s.avgFillPrice) or None,
        commission=round(sum(commissions), 4) if commissions else None,
        fills=fills,
        message=errors[-1].message if errors else None,
        created=min(times) if times else datetime.now(UTC),
        updated=max(times) if times else datetime.now(UTC),
    )


def trade_from_fills(fills: list[IBFill]) -> Trade:
    """An order IB no longer lists (done before this connection) rebuilt from its executions;
    a combo's from its legs' (`combos.combo_of_fills`)."""
    legs = [f for f in fills if f.contract.secType != "BAG"]
    if len({f.contract.conId for f in legs}) > 1:
        contract, qty, net = combo_of_fills(legs)
        return filled_trade(contract, legs, "BUY", qty, net, net)
    qty = sum(float(f.execution.shares) for f in fills)
    avg = sum(float(f.execution.shares) * float(f.execution.price) for f in fills) / qty
    action = "BUY" if fills[0].execution.side.upper().startswith("B") else "SELL"
    return filled_trade(fills[0].contract, fills, action, qty, round(avg, 4), avg)


def filled_trade(
    contract: Contract,
    fills: list[IBFill],
    action: str,
    quantity: float,
    limit: float,
    avg_price: float,
) -> Trade:
    """The filled `Trade` of a done order its executions describe, ids from the first one.
    The order type is not in an execution: it is shown as a limit at `limit`."""
    ex = fills[0].execution
    order = IBOrder(
        orderId=ex.orderId,
        clientId=ex.clientId,
        permId=ex.permId,
        action=action,
        totalQuantity=quantity,
        orderType="LMT",
        lmtPrice=limit,
        orderRef=ex.orderRef,
        account=ex.acctNumber,
    )
    status = IBOrderStatus(
        orderId=ex.orderId,
        status="Filled",
        filled=quantity,
        remaining=0.0,
        avgFillPrice=avg_price,
        permId=ex.permId,
    )
    log = [
        TradeLogEntry(f.time, "Filled", f"Fill {f.execution.shares}@{f.execution.price}")
        for f in fills
    ]
    return Trade(contract=contract, order=order, orderStatus=status, fills=list(fills), log=log)


CONTRACT_AND_SIZE = 7  # fingerprint fields executions can tell (no order type, limit, tif)


def build_contract(req: OrderRequest) -> Contract:
    if req.sec_type == "OPT":
        assert req.expiry and req.strike and req.right
        return Option(
            req.symbol,
            req.expiry.strftime("%Y%m%d"),
            float(req.strike),
            req.right,
            "SMART",
            currency="USD",
        )
    return Stock(req.symbol, "SMART", "USD")
