"""Orders and executions: the simulator's order book and when a working order fills.

A BAG (combo) order carries its legs: (option contract, ratio, action). Its price is IB's
net: the sum over legs of ratio x leg price, + for a BUY leg and - for a SELL leg, so buying
the combo at a negative limit receives a credit (a roll BUY-to-close / SELL-to-open at
-0.50 takes in 0.50 a share). It fills whole or not at all, every leg at its touch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tws_sim.account import Account
from tws_sim.contracts import SimContract
from tws_sim.market import ET, Market

# The conId IB reports for a USD combo (BAG) contract.
BAG_CON_ID = 28812380
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
    # A BAG order's legs: (leg contract, ratio, leg action); empty for a single contract.
    legs: list[tuple[SimContract, int, str]] = field(default_factory=list)

    @property
    def remaining(self) -> float:
        return self.quantity - self.filled

    @property
    def done(self) -> bool:
        return self.status in DONE

    def status_fields(self) -> tuple:
        """orderStatus's arguments, in `messages.order_status`'s order."""
        return (
            self.order_id,
            self.status,
            self.filled,
            self.remaining,
            self.avg_fill_price,
            self.perm_id,
            self.last_fill_price,
            self.client_id,
        )

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
            "combo_legs": [(c.con_id, r, a) for c, r, a in self.legs],
        }

    def describe(self) -> dict:
        return {
            "order_id": self.order_id,
            "perm_id": self.perm_id,
            "client_id": self.client_id,
            "order_ref": self.order_ref,
            "action": self.action,
            "quantity": self.quantity,
            "order_type": self.order_type,
            "lmt_price": self.lmt_price,
            **self.contract.describe(),
            "status": self.status,
            "filled": self.filled,
            "avg_fill_price": self.avg_fill_price,
            "legs": [{**c.describe(), "ratio": r, "action": a} for c, r, a in self.legs],
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


def bag_contract(symbol: str) -> SimContract:
    """The contract IB echoes for a combo: secType BAG on the legs' underlying."""
    return SimContract(con_id=BAG_CON_ID, symbol=symbol, sec_type="BAG")


def leg_side(combo_action: str, leg_action: str) -> str:
    """BOT or SLD for one leg: selling the combo reverses every leg."""
    buy = (leg_action == "BUY") == (combo_action == "BUY")
    return "BOT" if buy else "SLD"


def combo_leg_prices(market: Market, o: SimOrder) -> list[float]:
    """Each leg's price if the combo traded now: a bought leg at its ask, a sold one at its bid."""
    prices = []
    for c, _ratio, leg_action in o.legs:
        bid, ask = touch_price(market, c, leg_action)
        prices.append(ask if leg_side(o.action, leg_action) == "BOT" else bid)
    return prices


def combo_net(o: SimOrder, prices: list[float]) -> float:
    """IB's combo price of `prices` (+ BUY legs, - SELL legs, as the legs are written)."""
    net = 0.0
    for (_c, ratio, leg_action), px in zip(o.legs, prices, strict=True):
        net += ratio * px if leg_action == "BUY" else -ratio * px
    return round(net, 4)


def combo_what_if(account: Account, o: SimOrder) -> dict:
    """IB's what-if for a combo reports the whole order, not a leg: every leg filled now at
    its touch, through the account's one what-if."""
    prices = combo_leg_prices(account.market, o)
    fills = [
        (c, leg_side(o.action, leg_action), o.quantity * ratio, px)
        for (c, ratio, leg_action), px in zip(o.legs, prices, strict=True)
    ]
    return account.what_if(fills)


def combo_fill_prices(market: Market, o: SimOrder, mode: str) -> list[float] | None:
    """The legs' prices if the combo fills now, or None while it keeps working.

    Marketable means the legs' natural net is no worse than the limit: a BUY combo at most
    its limit, a SELL combo at least it. A market combo always fills."""
    if mode == "never":
        return None
    prices = combo_leg_prices(market, o)
    if any(px <= 0 for px in prices):
        return None
    if o.order_type == "MKT" or mode == "immediate":
        return prices
    if o.lmt_price is None:
        return None
    net = combo_net(o, prices)
    if o.action == "BUY" and net <= o.lmt_price + 1e-9:
        return prices
    if o.action == "SELL" and net >= o.lmt_price - 1e-9:
        return prices
    return None


def fill_lot(market: Market, o: SimOrder) -> float:
    """How much of `o` one tick can fill: the displayed size at the touch, at least the
    whole-fill size, so a large order fills in pieces over a few ticks as on a real book."""
    if o.legs:
        return o.remaining  # a combo fills all or nothing
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
