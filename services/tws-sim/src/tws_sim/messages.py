"""Outgoing TWS API messages at server version 176, field for field as ib_insync decodes them.

Each builder returns the framed bytes; ib_insync's decoder.py is the specification.
"""

from __future__ import annotations

from tws_sim.contracts import SimContract, fmt_strike
from tws_sim.protocol import encode

# tick types
BID_SIZE, BID, ASK, ASK_SIZE, LAST, LAST_SIZE, HIGH, LOW, VOLUME, CLOSE = range(10)
OPEN = 14
DELAYED = {
    BID: 66,
    ASK: 67,
    LAST: 68,
    BID_SIZE: 69,
    ASK_SIZE: 70,
    LAST_SIZE: 71,
    HIGH: 72,
    LOW: 73,
    VOLUME: 74,
    CLOSE: 75,
    OPEN: 76,
}
BID_OPTION, ASK_OPTION, LAST_OPTION, MODEL_OPTION = 10, 11, 12, 13
DELAYED_OPTION = {10: 80, 11: 81, 12: 82, 13: 83}
HIST_VOL, IMPLIED_VOL = 23, 24
CALL_OI, PUT_OI, CALL_VOLUME, PUT_VOLUME = 27, 28, 29, 30
FUNDAMENTAL_RATIOS = 47
DIVIDENDS = 59


def tick_price(req_id: int, tick: int, price: float, size: float, attrib: int = 0) -> bytes:
    return encode(1, 6, req_id, tick, price, size, attrib)


def tick_size(req_id: int, tick: int, size: float) -> bytes:
    return encode(2, 6, req_id, tick, size)


def tick_option(
    req_id: int,
    tick: int,
    iv: float,
    delta: float,
    price: float,
    pv_div: float,
    gamma: float,
    vega: float,
    theta: float,
    und: float,
) -> bytes:
    return encode(21, req_id, tick, 0, iv, delta, price, pv_div, gamma, vega, theta, und)


def tick_generic(req_id: int, tick: int, value: float) -> bytes:
    return encode(45, 6, req_id, tick, value)


def tick_string(req_id: int, tick: int, value: str) -> bytes:
    return encode(46, 6, req_id, tick, value)


def tick_snapshot_end(req_id: int) -> bytes:
    return encode(57, 1, req_id)


def market_data_type(req_id: int, data_type: int) -> bytes:
    return encode(58, 1, req_id, data_type)


def tick_req_params(req_id: int) -> bytes:
    return encode(81, req_id, 0.01, "9c0001", 3)


def error(req_id: int, code: int, message: str) -> bytes:
    return encode(4, 2, req_id, code, message, "")


def order_status(
    order_id: int,
    status: str,
    filled: float,
    remaining: float,
    avg_price: float,
    perm_id: int,
    last_price: float,
    client_id: int,
) -> bytes:
    return encode(
        3,
        order_id,
        status,
        filled,
        remaining,
        avg_price,
        perm_id,
        0,
        last_price,
        client_id,
        "",
        0.0,
    )


def account_value(key: str, value: str, currency: str, account: str) -> bytes:
    return encode(6, 2, key, value, currency, account)


def portfolio(
    c: SimContract,
    position: float,
    price: float,
    value: float,
    avg_cost: float,
    unrealized: float,
    realized: float,
    account: str,
) -> bytes:
    return encode(
        7,
        8,
        c.con_id,
        c.symbol,
        c.sec_type,
        c.expiry,
        fmt_strike(c.strike),
        c.right,
        c.multiplier,
        c.primary_exchange,
        c.currency,
        c.local_symbol,
        c.trading_class,
        position,
        price,
        value,
        avg_cost,
        unrealized,
        realized,
        account,
    )


def account_time(hhmm: str) -> bytes:
    return encode(8, 1, hhmm)


def next_valid_id(order_id: int) -> bytes:
    return encode(9, 1, order_id)


def managed_accounts(accounts: str) -> bytes:
    return encode(15, 1, accounts)


def current_time(epoch: int) -> bytes:
    return encode(49, 1, epoch)


def contract_details(req_id: int, c: SimContract, d: dict) -> bytes:
    return encode(
        10,
        req_id,
        c.symbol,
        c.sec_type,
        c.expiry,
        fmt_strike(c.strike),
        c.right,
        c.exchange,
        c.currency,
        c.local_symbol,
        d.get("market_name", c.trading_class),
        c.trading_class,
        c.con_id,
        d.get("min_tick", 0.01),
        c.multiplier,
        "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,DAY,GTC,LMT,MKT,STP,STPLMT,WHATIF",
        "SMART,AMEX,CBOE,ISE,NASDAQOM,PHLX,BOX" if c.is_option else "SMART,NYSE,NASDAQ,ARCA",
        1,
        d.get("under_con_id", 0),
        d.get("long_name", ""),
        c.primary_exchange,
        d.get("contract_month", ""),
        d.get("industry", ""),
        d.get("category", ""),
        d.get("subcategory", ""),
        "US/Eastern",
        d.get("trading_hours", ""),
        d.get("liquid_hours", ""),
        "",
        "",
        0,
        1,
        d.get("under_symbol", ""),
        d.get("under_sec_type", ""),
        d.get("market_rule_ids", "26,26,26,26"),
        c.expiry,
        "COMMON" if not c.is_option else "",
        1,
        1,
        1 if c.is_option else 100,
    )


def market_rule(rule_id: int, increments: list[tuple[float, float]]) -> bytes:
    """MARKET_RULE (93): the (lowEdge, increment) pairs of one price increment rule."""
    flat = [x for pair in increments for x in pair]
    return encode(93, rule_id, len(increments), *flat)


def contract_details_end(req_id: int) -> bytes:
    return encode(52, 1, req_id)


def exec_details(
    req_id: int,
    order_id: int,
    c: SimContract,
    exec_id: str,
    time_str: str,
    account: str,
    side: str,
    shares: float,
    price: float,
    perm_id: int,
    client_id: int,
    cum_qty: float,
    avg_price: float,
    order_ref: str,
) -> bytes:
    return encode(
        11,
        req_id,
        order_id,
        *c.fields(),
        exec_id,
        time_str,
        account,
        "ISLAND" if not c.is_option else "CBOE",
        side,
        shares,
        price,
        perm_id,
        client_id,
        0,
        cum_qty,
        avg_price,
        order_ref,
        "",
        "",
        "",
        2,
    )


def exec_details_end(req_id: int) -> bytes:
    return encode(55, 1, req_id)


def commission_report(exec_id: str, commission: float, realized: float | None) -> bytes:
    return encode(
        59,
        1,
        exec_id,
        commission,
        "USD",
        1.7976931348623157e308 if realized is None else realized,
        "",
        "",
    )


def historical_data(req_id: int, start: str, end: str, bars: list[tuple]) -> bytes:
    flat: list[object] = []
    for d, o, h, low, c, v, wap, n in bars:
        flat += [d.strftime("%Y%m%d"), o, h, low, c, v, wap, n]
    return encode(17, req_id, start, end, len(bars), *flat)


def position(account: str, c: SimContract, qty: float, avg_cost: float) -> bytes:
    return encode(61, 3, account, *c.fields(), qty, avg_cost)


def position_end() -> bytes:
    return encode(62, 1)


def open_order_end() -> bytes:
    return encode(53, 1)


def completed_orders_end() -> bytes:
    return encode(102)


def account_download_end(account: str) -> bytes:
    return encode(54, 1, account)


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    return encode(63, 1, req_id, account, tag, value, currency)


def account_summary_end(req_id: int) -> bytes:
    return encode(64, 1, req_id)


def position_multi(req_id: int, account: str, c: SimContract, qty: float, avg: float) -> bytes:
    return encode(71, 1, req_id, account, *c.fields(), qty, avg, "")


def position_multi_end(req_id: int) -> bytes:
    return encode(72, 1, req_id)


def account_update_multi(req_id: int, account: str, key: str, value: str, currency: str) -> bytes:
    return encode(73, 1, req_id, account, "", key, value, currency)


def account_update_multi_end(req_id: int) -> bytes:
    return encode(74, 1, req_id)


def secdef_params(
    req_id: int,
    exchange: str,
    under_con_id: int,
    trading_class: str,
    expiries: list[str],
    strikes: list[float],
) -> bytes:
    return encode(
        75,
        req_id,
        exchange,
        under_con_id,
        trading_class,
        "100",
        len(expiries),
        *expiries,
        len(strikes),
        *(fmt_strike(k) for k in strikes),
    )


def secdef_params_end(req_id: int) -> bytes:
    return encode(76, req_id)


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> bytes:
    return encode(94, req_id, daily, unrealized, realized)


def pnl_single(
    req_id: int, pos: float, daily: float, unrealized: float, realized: float, value: float
) -> bytes:
    return encode(95, req_id, pos, daily, unrealized, realized, value)


def combo_leg_fields(o: dict) -> list[object]:
    """A BAG order's legs (contract legs, per-leg prices, routing params) as openOrder and
    completedOrder carry them; three empty lists for a single-contract order."""
    legs = o.get("combo_legs") or []
    f: list[object] = [len(legs)]
    for con_id, ratio, action in legs:
        f += [con_id, ratio, action, "SMART", 0, 0, "", -1]
    return [*f, 0, 0]


def _order_terms(o: dict) -> list[object]:
    """An order's own terms, action to orderRef, as openOrder and completedOrder both carry them
    (ocaGroup empty, origin 0 = customer)."""
    return [
        o["action"],
        o["quantity"],
        o["order_type"],
        o.get("lmt_price"),
        o.get("aux_price"),
        o.get("tif", "DAY"),
        "",
        o["account"],
        o.get("open_close", ""),
        0,
        o.get("order_ref", ""),
    ]


# openOrder's fields from outsideRth to deltaNeutralAuxPrice: options the simulator's orders
# never set, at the values IB sends for a plain order (empty deltaNeutralOrderType: no block).
_OPEN_ORDER_UNSET: tuple[object, ...] = (
    0, 0, None, "", "", "", "", "", "", "", "", "", None, "", 0, "", -1, "", None, None, None,
    None, None, None, 0, 0, 0, None, 0, 0, 0, None, 0, 0, None, 0, "", None,
)  # fmt: skip


def _order_state_fields(o: dict, state: dict) -> list[object]:
    """randomizeSize .. the OrderState: the status, and a what-if's margin and commission."""
    return [
        0,
        1 if o.get("what_if") else 0,
        state["status"],
        state.get("init_before", ""),
        state.get("maint_before", ""),
        state.get("ewl_before", ""),
        state.get("init_change", ""),
        state.get("maint_change", ""),
        state.get("ewl_change", ""),
        state.get("init_after", ""),
        state.get("maint_after", ""),
        state.get("ewl_after", ""),
        state.get("commission"),
        state.get("min_commission"),
        state.get("max_commission"),
        "USD" if state.get("commission") is not None else "",
        state.get("warning", ""),
        0,
        0,
    ]


def open_order(o: dict, c: SimContract, state: dict) -> bytes:
    """openOrder (msg 5) as decoder.openOrder reads it at server version 176."""
    f: list[object] = [5, o["order_id"], *c.fields(), *_order_terms(o), o["client_id"]]
    f += [o["perm_id"], *_OPEN_ORDER_UNSET]
    f += [0, 0, None, None, None, None, "", *combo_leg_fields(o)]  # continuousUpdate .. legs
    f += [None, None, "", "", 0, "", "", 0, 0, ""]  # scale, hedge, clearing, dnc, algo
    f += _order_state_fields(o, state)
    f += [0]  # conditions
    f += ["None", None, None, None, None, None, None, 0, "", "", "", None, 0, 0, 0, ""]
    f += [None, 0, 0]  # duration, postToAts, autoCancelParent
    f += [None, None, None, None, None]
    return encode(*f)


def completed_order(o: dict, c: SimContract, status: str, filled: float, when: str) -> bytes:
    """completedOrder (msg 101) as decoder.completedOrder reads it at server version 176."""
    f: list[object] = [101, *c.fields(), *_order_terms(o), o["perm_id"]]
    f += [
        0, 0, None, "", "", "", "", "", "", "", "", None, "", 0, "", -1, None, None, None, None,
        None, None, 0, 0, None, 0, 0, None, 0, "", None,
    ]  # fmt: skip
    f += [0, 0, None, None, ""]
    f += combo_leg_fields(o)
    f += [None, None, "", "", "", "", 0, 0, ""]
    f += [0, status, 0, 0, 0]
    f += [None, None, None, 0, 0, "", filled, 0, 0, "", 0, 0, None, when, status]
    f += [None, None, None, None, None]
    return encode(*f)
