"""Rows and broker objects the web's tests build again and again, with one set of plain defaults.

A test overrides the fields it asserts on; the rest are an ordinary 30-DTE cash-secured put
(or 100 shares) of KO on the pinned broker clock (wheeldesk_testing.moments.SIM_START), in
tws-sim's paper account. The broker objects are the bridge's schemas (`Fill`, `Position`,
`Quote`; the fills' defaults are the harness's, `wheeldesk_testing.fills`, which tests outside
the web's use too): what the web's ledger, checks and worker receive from IBKR. The ledger events are
the cycle maths' own input (`LedgerEvent`), for the tables worked by hand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

from wheeldesk.schemas.account import Position
from wheeldesk.schemas.market import OptionContract, Quote
from wheeldesk.schemas.screener import Signal as SignalSchema

# Fills and signals are the harness's (tests outside the web's build them too), offered here
# with the rest (`X as X`: a re-export).
from wheeldesk_testing.fills import EXPIRY as EXPIRY
from wheeldesk_testing.fills import option_fill as option_fill
from wheeldesk_testing.fills import stock_fill as stock_fill
from wheeldesk_testing.moments import SIM_START
from wheeldesk_testing.web_seeds import new_signal as new_signal
from wheeldesk_web.ledger.cycles import LedgerEvent

ACCOUNT = "DU7654321"  # tws-sim's paper account, as the bridge reports it


def stock_position(symbol: str = "KO", quantity: float = 200, **fields: Any) -> Position:
    """Shares held: by default 200 KO at an average cost of 60.00."""
    defaults: dict[str, Any] = {"account_id": ACCOUNT, "sec_type": "STK", "avg_cost": 60.0}
    return Position(**{**defaults, "symbol": symbol, "quantity": quantity, **fields})


def option_position(symbol: str = "KO", quantity: float = -1, **fields: Any) -> Position:
    """An option held: by default 1 short KO put (60 strike, EXPIRY), IB's average cost per
    contract 110.00 (1.10 a share)."""
    defaults: dict[str, Any] = {
        "account_id": ACCOUNT,
        "sec_type": "OPT",
        "avg_cost": 110.0,
        "expiry": EXPIRY,
        "strike": 60.0,
        "right": "P",
        "multiplier": 100,
    }
    return Position(**{**defaults, "symbol": symbol, "quantity": quantity, **fields})


def quote(symbol: str, last: float, **fields: Any) -> Quote:
    """The bridge's quote of `symbol` at `last` (bid, ask, ... as given)."""
    return Quote(symbol=symbol, last=last, **fields)


def event_time(day: str, hour: int = 15, minute: int = 0) -> datetime:
    """`day` (ISO) at `hour`:`minute` UTC: the ledger tables' literal moments, no clock read."""
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def ledger_stock(
    day: str,
    side: str,
    qty: int | str,
    price: float | str,
    *,
    kind: str = "trade",
    fee: str = "0",
    hour: int = 15,
    m: int = 0,
    sym: str = "X",
) -> LedgerEvent:
    """A share execution of `sym` at `day` `hour`:`m` (a book entry by `kind`: an assignment's
    stock leg; an option's at price 0)."""
    return LedgerEvent(
        time=event_time(day, hour, m),
        symbol=sym,
        kind=kind,
        sec_type="STK",
        side=side,
        quantity=D(qty),
        price=D(price),
        commission=D(fee),
        ref=f"{sym}{day}{hour}{m}{side}STK{price}",
    )


def ledger_option(
    day: str,
    side: str,
    qty: int | str,
    right: str,
    strike: float | str,
    expiry: str,
    price: str,
    **when: Any,
) -> LedgerEvent:
    """An option execution (100 shares a contract): `ledger_stock`'s trade with the contract's
    right, strike and expiry (`when`: its `kind`, `fee`, `hour`, `m`, `sym`)."""
    trade = ledger_stock(day, side, qty, price, **when)
    return replace(
        trade,
        sec_type="OPT",
        multiplier=100,
        right=right,
        strike=D(strike),
        expiry=date.fromisoformat(expiry),
        ref=f"{trade.symbol}{trade.time:%Y%m%d%H%M}{side}{right}{strike}{price}",
    )


FLEX_ROW = (
    '<Trade accountId="U1234567" assetCategory="{cat}" symbol="{sym}" underlyingSymbol="{und}" '
    'putCall="{pc}" strike="{strike}" expiry="{exp}" multiplier="{mult}" '
    'dateTime="{dt}" tradeDate="{dt8}" quantity="{qty}" tradePrice="{px}" '
    'ibCommission="{fee}" buySell="{bs}" notes="{notes}" ibExecID="{eid}" '
    'levelOfDetail="EXECUTION" ibOrderID="{oid}"/>'
)


def flex_trade(
    eid: str,
    cat: str,
    und: str,
    dt: str,
    qty: str,
    px: str,
    *,
    pc: str = "",
    strike: str = "",
    exp: str = "",
    fee: str = "0",
    notes: str = "",
) -> str:
    """One execution row of a Flex trades report (`cat` OPT or STK, `dt` IB's "yyyymmdd;hhmmss",
    `qty` signed: negative sells; the contract's columns for an option)."""
    sym = und if cat == "STK" else f"{und}  {exp[2:]}{pc}{int(float(strike) * 1000):08d}"
    return FLEX_ROW.format(
        cat=cat,
        sym=sym,
        und=und if cat == "OPT" else "",
        pc=pc,
        strike=strike,
        exp=exp,
        mult=100 if cat == "OPT" else 1,
        dt=dt,
        dt8=dt[:8],
        qty=qty,
        px=px,
        fee=fee,
        bs="SELL" if qty.startswith("-") else "BUY",
        notes=notes,
        eid=eid,
        oid=eid[-3:],
    )


def flex_report(rows: list[str]) -> bytes:
    """A Flex trades report of these rows as IB writes it, with an order-level summary row the
    import must ignore."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<FlexQueryResponse queryName="trades" type="AF"><FlexStatements count="1">'
        '<FlexStatement accountId="U1234567" fromDate="20250101" toDate="20251231"><Trades>'
        + "".join(rows)
        + '<Trade assetCategory="OPT" levelOfDetail="ORDER" symbol="X" quantity="-1" '
        'tradePrice="9" dateTime="20250101;100000"/>'  # order-level summary: ignored
        "</Trades></FlexStatement></FlexStatements></FlexQueryResponse>"
    ).encode()


def flex_option(
    eid: str, und: str, dt: str, qty: str, px: str, right: str, strike: str, exp: str, **cols: str
) -> str:
    """An option execution row: `flex_trade` with the contract's right, strike and expiry in
    order (`cols`: its `fee`, `notes`)."""
    return flex_trade(eid, "OPT", und, dt, qty, px, pc=right, strike=strike, exp=exp, **cols)


def make_signal(symbol: str, apy: float, tier: str, **extra: Any) -> SignalSchema:
    """A screener signal (as a scan returns it): a 30-DTE 100 put of `symbol`, `extra` on top."""
    expiry = SIM_START.date() + timedelta(days=30)
    values = {
        "kind": "CSP",
        "symbol": symbol,
        "contract": OptionContract(symbol=symbol, expiry=expiry, strike=100.0, right="P"),
        "premium_basis": "bid",
        "premium": 1.5,
        "collateral": 10_000.0,
        "yield_pct": 1.5,
        "apy": apy,
        "pop": 80.0,
        "abs_delta": 0.2,
        "breakeven": 98.5,
        "expected_move": 7.0,
        "distance_pct": 5.0,
        "distance_em": 0.7,
        "spread_pct": 4.0,
        "open_interest": 900.0,
        "volume": 120.0,
        "iv": 0.28,
        "iv_rank": 40.0,
        "dte": 30,
        "underlying_price": 105.0,
        "score": apy,
        "tier": tier,
        "reasons": [f"{symbol}: APY {apy:.1f}% at 0.20 delta"],
        "market_data_type": "live",
    }
    values.update(extra)
    return SignalSchema(**values)
