"""Orders and executions: the simulator's order book and when a working order fills."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tws_sim.contracts import SimContract
from tws_sim.market import ET, Market

DONE = ("Filled", "Cancelled", "ApiCancelled", "Inactive", "Rejected")


@dataclass(slots=True)
class SimOrder:
    order_id: int
    perm_id: int
    client_id: int
    contract: SimContract
    action: str
    quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    account: str
    order_ref: str
    open_close: str = ""
    status: str = "PreSubmitted"
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0

    @property
    def remaining(self) -> float:
        return self.quantity - self.filled

    @property
    def done(self) -> bool:
        return self.status in DONE

    def as_fields(self) -> dict:
        return {
            "order_id": self.order_id,
            "perm_id": self.perm_id,
            "client_id": self.client_id,
            "action": self.action,
            "quantity": self.quantity,
            "order_type": self.order_type,
            "lmt_price": self.lmt_price,
            "aux_price": self.aux_price,
            "tif": self.tif,
            "account": self.account,
            "order_ref": self.order_ref,
            "open_close": self.open_close,
        }

    def describe(self) -> dict:
        c = self.contract
        return {
            "order_id": self.order_id,
            "perm_id": self.perm_id,
            "client_id": self.client_id,
            "order_ref": self.order_ref,
            "action": self.action,
            "quantity": self.quantity,
            "order_type": self.order_type,
            "lmt_price": self.lmt_price,
            "symbol": c.symbol,
            "sec_type": c.sec_type,
            "con_id": c.con_id,
            "expiry": c.expiry or None,
            "strike": c.strike or None,
            "right": c.right or None,
            "status": self.status,
            "filled": self.filled,
            "avg_fill_price": self.avg_fill_price,
        }


@dataclass(slots=True)
class Execution:
    exec_id: str
    order_id: int
    perm_id: int
    client_id: int
    contract: SimContract
    side: str  # BOT | SLD
    shares: float
    price: float
    time: datetime
    order_ref: str
    commission: float
    realized: float | None
    cum_qty: float
    avg_price: float
    extra: dict = field(default_factory=dict)

    @property
    def time_str(self) -> str:
        return self.time.astimezone(ET).strftime("%Y%m%d %H:%M:%S") + " US/Eastern"

    def describe(self) -> dict:
        return {
            "exec_id": self.exec_id,
            "order_id": self.order_id,
            "perm_id": self.perm_id,
            "client_id": self.client_id,
            **self.contract.describe(),
            "side": self.side,
            "shares": self.shares,
            "price": self.price,
            "time": self.time.isoformat(),
            "order_ref": self.order_ref,
            "commission": self.commission,
        }


def touch_price(market: Market, c: SimContract, action: str) -> tuple[float, float]:
    """(bid, ask) the order would trade against now."""
    if c.is_option:
        q = market.option_quote(c)
        return q.bid, q.ask
    q = market.stock_quote(c.symbol)
    return q.bid, q.ask


# Up to this much always fills whole at once (the wheel's usual 1-10 contracts, 1000 shares);
# beyond it, one tick fills at most the size shown at the touch.
WHOLE_FILL_OPTION = 10
WHOLE_FILL_STOCK = 1000


def fill_lot(market: Market, o: SimOrder) -> float:
    """How much of `o` one tick can fill: the displayed size at the touch, at least the
    whole-fill size, so a large order fills in pieces over a few ticks as on a real book."""
    buy = o.action == "BUY"
    if o.contract.is_option:
        q = market.option_quote(o.contract)
        return float(max(q.ask_size if buy else q.bid_size, WHOLE_FILL_OPTION))
    s = market.stock_quote(o.contract.symbol)
    return float(max(s.ask_size if buy else s.bid_size, WHOLE_FILL_STOCK))


def fill_price(market: Market, o: SimOrder, mode: str) -> float | None:
    """The price this working order fills at now, or None if it keeps working."""
    if mode == "never":
        return None
    bid, ask = touch_price(market, o.contract, o.action)
    buy = o.action == "BUY"
    if o.order_type == "MKT":
        if buy:
            return ask
        return bid if bid > 0 else 0.01
    if o.lmt_price is None:
        return None
    if mode == "immediate":
        return o.lmt_price
    if buy and o.lmt_price >= ask > 0:
        return ask
    if not buy and o.lmt_price <= bid and bid > 0:
        return bid
    return None
