"""Parsing of client requests whose layout varies (contracts, placeOrder) at server version 176.

The layouts mirror ib_insync's client.py send order exactly; any missing field raises
IndexError/ValueError, which the session turns into IB error 320.
"""

from __future__ import annotations

from dataclasses import dataclass, field

UNSET_DOUBLE = 1.7976931348623157e308


@dataclass(slots=True)
class ContractSpec:
    con_id: int
    symbol: str
    sec_type: str
    expiry: str
    strike: float
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str


def num(s: str, default: float = 0.0) -> float:
    if s == "" or s is None:
        return default
    v = float(s)
    return default if v >= UNSET_DOUBLE else v


def parse_contract(f: list[str], i: int) -> tuple[ContractSpec, int]:
    """12 fields: conId symbol secType expiry strike right mult exch primExch curr local class."""
    if len(f) < i + 12:
        raise IndexError("truncated contract")
    right = f[i + 5].upper()
    right = {"CALL": "C", "PUT": "P"}.get(right, right)
    spec = ContractSpec(
        con_id=int(num(f[i])),
        symbol=f[i + 1].upper(),
        sec_type=f[i + 2].upper(),
        expiry=f[i + 3].split(" ")[0],
        strike=num(f[i + 4]),
        right=right,
        multiplier=f[i + 6],
        exchange=f[i + 7],
        primary_exchange=f[i + 8],
        currency=f[i + 9],
        local_symbol=f[i + 10],
        trading_class=f[i + 11],
    )
    return spec, i + 12


@dataclass(slots=True)
class OrderRequest:
    order_id: int
    contract: ContractSpec
    action: str
    quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    account: str
    open_close: str
    order_ref: str
    transmit: bool
    what_if: bool
    # A BAG's legs as (conId, ratio, action), in the order the client sent them.
    combo_legs: list[tuple[int, int, str]] = field(default_factory=list)


def parse_place_order(f: list[str]) -> OrderRequest:
    order_id = int(f[1])
    c, i = parse_contract(f, 2)
    i += 2  # secIdType, secId
    action, qty, otype, lmt, aux, tif = f[i : i + 6]
    account, open_close, _origin, order_ref, transmit = f[i + 7 : i + 12]
    i += 19  # .. hidden
    legs: list[tuple[int, int, str]] = []
    if c.sec_type == "BAG":
        n = int(f[i])
        i += 1
        for _ in range(n):  # conId ratio action exchange openClose shortSaleSlot desLoc exempt
            legs.append((int(num(f[i])), int(num(f[i + 1], 1.0)), f[i + 2].upper()))
            i += 8
        i += 1 + int(f[i])  # orderComboLegs: one price each
        i += 1 + 2 * int(f[i])  # smartComboRoutingParams: tag, value
    i += 32  # sharesAllocation .. deltaNeutralAuxPrice
    if f[i - 2]:  # deltaNeutralOrderType
        i += 8
    spi = num(f[i + 6])
    i += 7
    if 0 < spi < UNSET_DOUBLE:
        i += 7
    hedge = f[i + 3]
    i += 4 + (1 if hedge else 0)
    i += 4  # optOutSmartRouting .. notHeld
    if f[i] == "1":
        i += 3
    i += 1
    algo = f[i]
    i += 1
    if algo:
        n = int(f[i])
        i += 1 + 2 * n
    what_if = f[i + 1] == "1"  # algoId, whatIf
    lmt_v = num(lmt, UNSET_DOUBLE)
    aux_v = num(aux, UNSET_DOUBLE)
    return OrderRequest(
        order_id=order_id,
        contract=c,
        action=action.upper(),
        quantity=num(qty),
        order_type=otype.upper(),
        lmt_price=None if lmt_v >= UNSET_DOUBLE else lmt_v,
        aux_price=None if aux_v >= UNSET_DOUBLE else aux_v,
        tif=tif or "DAY",
        account=account,
        open_close=open_close,
        order_ref=order_ref,
        transmit=transmit != "0",
        what_if=what_if,
        combo_legs=legs,
    )


def parse_duration_days(duration: str) -> int:
    """IB duration string ('30 D', '2 W', '6 M', '1 Y') in calendar days."""
    n_s, unit = duration.strip().split()
    n = int(n_s)
    factor = {"S": 1 / 86400, "D": 1, "W": 7, "M": 31, "Y": 366}[unit.upper()]
    return max(1, int(n * factor))
