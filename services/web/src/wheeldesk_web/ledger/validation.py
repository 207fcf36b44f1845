"""Sanity bounds for every execution before it is stored, whatever its source.

A single absurd value (a multiplier of 1e15, a NaN quantity, a year-0001 trade, a 5,000-
character symbol) stored once used to break the ledger and dashboard pages for every user
(issue 17). The bounds are IB's own where IB has them (multipliers of US stock/option
contracts, 21-character symbols) and generous elsewhere: no real fill comes near them.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

from wheeldesk.schemas.orders import Fill

MULTIPLIERS = frozenset({1, 10, 100, 1000})
MAX_PRICE = 1e7  # per share; BRK.A trades below 1e6
MAX_QUANTITY = 1e7  # shares or contracts in one fill
MAX_MONEY = 1e9  # commission, realised P&L of one fill
MIN_YEAR, MAX_YEAR = 1990, 2100
MAX_SYMBOL = 21  # IB's longest local symbol
SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9 .\-/]*$")


class InvalidFill(ValueError):
    """A fill outside the sane ranges; the message names the field and the value."""

    def __init__(self, field: str, message: str, where: str = "") -> None:
        super().__init__(f"{where}{field}: {message}")
        self.field = field
        self.detail = message


def _finite(field: str, value: float | None, *, lo: float, hi: float, optional: bool) -> None:
    if value is None:
        if optional:
            return
        raise InvalidFill(field, "missing")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidFill(field, f"{value!r} is not a number")
    if not math.isfinite(value):
        raise InvalidFill(field, f"{value!r} is not a finite number")
    if not lo <= value <= hi:
        raise InvalidFill(field, f"{value:g} is outside {lo:g} … {hi:g}")


def _year(field: str, value: date | datetime | None) -> None:
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidFill(field, f"year {value.year} is outside {MIN_YEAR}–{MAX_YEAR}")


def check_symbol(symbol: str, field: str = "symbol") -> None:
    if not symbol or len(symbol) > MAX_SYMBOL or not SYMBOL.match(symbol.upper()):
        shown = symbol if len(symbol) <= 30 else symbol[:30] + "…"
        raise InvalidFill(field, f"{shown!r} is not a ticker (1–{MAX_SYMBOL} letters/digits)")


def check_fill(fill: Fill, n: int | None = None) -> None:
    """Raise InvalidFill when any field of the fill is outside its sane range."""
    try:
        check_symbol(fill.symbol)
        if len(fill.exec_id or "") > 80 or not fill.exec_id:
            raise InvalidFill("exec_id", "missing or longer than 80 characters")
        _finite("quantity", fill.quantity, lo=1e-6, hi=MAX_QUANTITY, optional=False)
        _finite("price", fill.price, lo=0, hi=MAX_PRICE, optional=False)
        _finite("commission", fill.commission, lo=-MAX_MONEY, hi=MAX_MONEY, optional=True)
        _finite("realized_pnl", fill.realized_pnl, lo=-MAX_MONEY, hi=MAX_MONEY, optional=True)
        if fill.multiplier not in MULTIPLIERS:
            raise InvalidFill("multiplier", f"{fill.multiplier!r} is not one of 1, 10, 100, 1000")
        _year("time", fill.time)
        if fill.sec_type == "OPT":
            _finite("strike", fill.strike, lo=1e-4, hi=MAX_PRICE, optional=False)
            if fill.expiry is None:
                raise InvalidFill("expiry", "an option needs its expiry")
            _year("expiry", fill.expiry)
            if fill.right not in ("P", "C"):
                raise InvalidFill("right", f"{fill.right!r} is not P or C")
        for name in ("account_id", "exchange", "client_order_id"):
            value = getattr(fill, name) or ""
            if len(value) > 64:
                raise InvalidFill(name, "longer than 64 characters")
    except InvalidFill as exc:
        if n is None:
            raise
        raise InvalidFill(exc.field, exc.detail, where=f"fill {n}: ") from exc
