"""Wheel-cycle maths: plain functions over a ticker's executions, no database.

A cycle starts when a flat ticker opens something (a put sold, shares bought or a
pre-existing lot) and ends when the ticker is flat again: puts expired or bought
back (and not rolled the same day), or shares called away or sold. Assignment and
call-away are read from the executions: their `kind` (IB reports them as fills), or,
when a report carries no code, IB's two-leg shape — the option closed at 0 and the
shares delivered the same day. Never inferred from the price at expiry. An option held
before the ledger's history (so never seen opened) that expires or is assigned opens no
cycle: its leg moves no money; shares it delivers open a cycle as shares.

Definitions (the numbers the ledger pages show):
- net premium = credits of every option sold in the cycle − debits of every option
  bought back (rolls included); commissions are *not* netted here, they are `fees`.
- adjusted cost basis (per share) = average acquisition price of the cycle's shares
  (the assignment strike, or a manual lot's price) − (net premium + dividends) /
  shares acquired. Fees are not folded into the basis; they reduce realised P&L.
- realised P&L (closed cycles) = net premium + dividends + stock proceeds − stock
  cost − fees.
- unknown basis: shares or a short option the ledger never saw opened (held before its
  history, with no opening lot added) make the cycle's basis and realised P&L *unknown*
  (None, shown as "unknown — add the opening lot"), never a profit made of a whole sale.
- capital = the larger of the most put collateral outstanding at once (strike × 100
  × contracts) and the cost of the shares acquired; annualised return = realised
  P&L / capital × 365 / days × 100, days = calendar days from first to last event (≥ 1).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from wheeldesk.markettime import NY as EASTERN

ZERO = Decimal(0)

EventKind = Literal["trade", "assignment", "exercise", "expiration", "dividend", "lot"]
CycleState = Literal["short_put", "shares", "covered_call", "closed"]
Outcome = Literal["expired", "bought_back", "called_away", "sold", ""]

STATE_LABELS = {
    "short_put": "Short put open",
    "shares": "Holding shares",
    "covered_call": "Covered call open",
    "closed": "Closed",
}
OUTCOME_LABELS = {
    "expired": "put expired worthless",
    "bought_back": "put bought back",
    "called_away": "shares called away",
    "sold": "shares sold",
    "": "",
}


def dec(value: object) -> Decimal:
    """Money from floats without binary noise (2.1 stays 2.1)."""
    if value is None:
        return ZERO
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


@dataclass(frozen=True)
class LedgerEvent:
    """One execution or manual adjustment, normalised. Quantities are positive."""

    time: datetime
    symbol: str
    kind: EventKind
    sec_type: Literal["STK", "OPT", "CASH"] = "OPT"
    side: Literal["BOT", "SLD"] | None = None
    quantity: Decimal = ZERO
    price: Decimal = ZERO
    multiplier: int = 1
    commission: Decimal = ZERO
    right: Literal["P", "C"] | None = None
    strike: Decimal | None = None
    expiry: date | None = None
    amount: Decimal = ZERO
    ref: str = ""
    note: str = ""

    @property
    def cash(self) -> Decimal:
        """Signed cash flow before fees: + received, − paid."""
        if self.kind == "dividend":
            return self.amount
        gross = self.quantity * self.price * self.multiplier
        return gross if self.side == "SLD" else -gross

    @property
    def contract_key(self) -> tuple:
        return (self.right, self.strike, self.expiry)

    @property
    def local_date(self) -> date:
        t = self.time
        return t.astimezone(EASTERN).date() if t.tzinfo else t.date()

    def describe(self) -> str:
        if self.kind == "dividend":
            return f"Dividend ${self.amount:,.2f}"
        if self.kind == "lot":
            return f"Pre-existing lot: {self.quantity:,.0f} shares @ {self.price:,.2f}"
        verb = {
            "assignment": "Assigned",
            "exercise": "Exercised",
            "expiration": "Expired",
        }.get(self.kind, "Bought" if self.side == "BOT" else "Sold")
        if self.sec_type == "STK":
            return f"{verb} {self.quantity:,.0f} shares @ {self.price:,.2f}"
        strike = format(self.strike.normalize(), "f") if self.strike is not None else "?"
        what = f"{strike}{self.right} {self.expiry:%Y-%m-%d}" if self.expiry else ""
        return f"{verb} {self.quantity:,.0f} × {what} @ {self.price:,.2f}"


@dataclass
class Cycle:
    symbol: str
    start: datetime
    end: datetime | None = None
    state: CycleState = "short_put"
    outcome: Outcome = ""
    events: list[LedgerEvent] = field(default_factory=list)
    put_premium: Decimal = ZERO
    call_premium: Decimal = ZERO
    dividends: Decimal = ZERO
    fees: Decimal = ZERO
    shares: Decimal = ZERO
    shares_acquired: Decimal = ZERO
    acquisition_cost: Decimal = ZERO
    stock_proceeds: Decimal = ZERO
    max_collateral: Decimal = ZERO
    rolls: int = 0
    assigned: bool = False
    called_away: bool = False
    #: shares sold / options closed that the ledger never saw opened (no opening lot)
    unknown_shares: Decimal = ZERO
    unknown_options: Decimal = ZERO
    calls_without_shares: bool = False

    @property
    def basis_unknown(self) -> bool:
        return bool(self.unknown_shares or self.unknown_options or self.calls_without_shares)

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    @property
    def premium(self) -> Decimal:
        """Net option premium of the cycle, USD (credits − buy-back debits)."""
        return self.put_premium + self.call_premium

    @property
    def assignment_price(self) -> Decimal | None:
        if not self.shares_acquired:
            return None
        return self.acquisition_cost / self.shares_acquired

    @property
    def adjusted_cost_basis(self) -> Decimal | None:
        price = self.assignment_price
        if price is None or self.basis_unknown:
            return None
        return price - (self.premium + self.dividends) / self.shares_acquired

    @property
    def capital(self) -> Decimal:
        return max(self.max_collateral, self.acquisition_cost)

    @property
    def realised_pnl(self) -> Decimal | None:
        if not self.closed or self.basis_unknown:
            return None
        return (
            self.premium + self.dividends + self.stock_proceeds - self.acquisition_cost - self.fees
        )

    def days(self, today: date | None = None) -> int:
        end = self.end.date() if self.end else (today or date.today())
        return max(1, (end - self.start.date()).days)

    @property
    def annualised_return(self) -> Decimal | None:
        pnl = self.realised_pnl
        if pnl is None or not self.capital:
            return None
        return pnl / self.capital * Decimal(365) / Decimal(self.days()) * 100

    @property
    def state_label(self) -> str:
        label = (
            f"Closed — {OUTCOME_LABELS[self.outcome]}" if self.closed else STATE_LABELS[self.state]
        )
        return f"{label} (basis unknown)" if self.basis_unknown else label

    @property
    def key(self) -> str:
        """Stable identity: the ticker and the first event that opened the cycle."""
        first = self.events[0]
        return f"{self.symbol}-{first.time:%Y%m%d%H%M%S}-{first.ref or 'x'}"[:120]


def _closing_outcome(e: LedgerEvent) -> Outcome:
    """A put closed for nothing expired; one closed for a price was bought back."""
    return "expired" if e.price == 0 or e.kind == "expiration" else "bought_back"


class _Builder:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.cycles: list[Cycle] = []
        self.current: Cycle | None = None
        self.options: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
        self.pending_close: LedgerEvent | None = None
        self.last_buyback: dict[str | None, date] = {}
        self.last_sale: dict[str | None, tuple[date, tuple]] = {}
        # an option closed at 0 on a day: (day, strike, shares it would deliver)
        self.zero_close: dict[str | None, tuple[date, Decimal | None, Decimal]] = {}
        self.last_stock_sale_called = False

    def _settles_unknown(self, e: LedgerEvent) -> bool:
        """An option leg settling at expiry (labelled so, or closed at 0) for a contract the
        ledger holds none of."""
        if e.sec_type != "OPT":
            return False
        settling = e.kind in ("expiration", "assignment", "exercise") or e.price == 0
        return settling and not self.options.get(e.contract_key)

    def _flat_options(self) -> bool:
        return all(q == 0 for q in self.options.values())

    def _close(self, at: LedgerEvent, outcome: Outcome) -> None:
        assert self.current is not None
        self.current.state = "closed"
        self.current.outcome = outcome
        self.current.end = at.time
        self.current = None
        self.options.clear()
        self.pending_close = None
        self.last_buyback.clear()
        self.last_sale.clear()
        self.zero_close.clear()
        self.last_stock_sale_called = False

    def _delivery(self, right: str, e: LedgerEvent) -> bool:
        """Is this stock leg the delivery of an option of `right` closed at 0 the same day (IB's
        two-leg assignment / call-away), rather than a market trade?"""
        z = self.zero_close.get(right)
        if z is None or z[0] != e.local_date:
            return False
        _day, strike, shares = z
        return strike is not None and e.price == strike and e.quantity <= shares

    def _update_state(self) -> None:
        c = self.current
        assert c is not None
        short_calls = any(q < 0 and k[0] == "C" for k, q in self.options.items())
        # calls sold on more shares than the ledger holds: shares held before its history
        c.calls_without_shares = short_calls and c.shares < 100 * sum(
            (-q for k, q in self.options.items() if q < 0 and k[0] == "C"), ZERO
        )
        if c.shares > 0 or (short_calls and c.shares == 0):
            c.state = "covered_call" if short_calls else "shares"
        else:
            c.state = "short_put"
        collateral = sum(
            (-q * (k[1] or ZERO) * 100 for k, q in self.options.items() if q < 0 and k[0] == "P"),
            ZERO,
        )
        c.max_collateral = max(c.max_collateral, collateral)

    def add(self, e: LedgerEvent) -> None:
        if self._settles_unknown(e):
            # An option opened before the ledger's history (held when Wheeldesk started)
            # expiring or assigned: no money moves on this leg and no cycle of the ledger
            # held it. The delivered shares, if any, open a cycle of their own.
            return
        if self.pending_close is not None:
            self._settle_pending_close(e, self.pending_close)
        # Bought back with nothing of it open: a short option sold before the ledger's history.
        # Its premium is not known, so neither is the cycle's P&L (never a loss invented from
        # nothing); an opening lot (Adjustment "option") fixes it.
        closing_unknown = (
            e.sec_type == "OPT"
            and e.kind == "trade"
            and e.side == "BOT"
            and self.options.get(e.contract_key, ZERO) >= 0
        )
        if self.current is None:
            if e.kind == "dividend":
                # A dividend paid after the shares left belongs to the cycle that held them.
                if self.cycles:
                    self.cycles[-1].dividends += e.amount
                    self.cycles[-1].events.append(e)
                return
            self.current = Cycle(symbol=self.symbol, start=e.time)
            self.cycles.append(self.current)
        c = self.current
        c.events.append(e)
        c.fees += e.commission
        if e.kind == "dividend":
            c.dividends += e.amount
        elif e.sec_type == "OPT":
            self._add_option(c, e, closing_unknown)
        else:  # stock or a pre-existing lot
            self._add_stock(c, e)
        self._update_state()
        if c.shares <= 0 and self._flat_options():
            self._cycle_flat(c, e)

    def _settle_pending_close(self, e: LedgerEvent, pending: LedgerEvent) -> None:
        """The event after a buy-back that left the cycle flat decides what that buy-back was:
        a roll (a sale the same day), an assignment's or call-away's option leg (shares the
        same day after a close at 0), or the cycle's end."""
        same_day = e.local_date == pending.local_date
        is_roll = e.sec_type == "OPT" and e.side == "SLD" and e.kind == "trade" and same_day
        # An option closed at 0 followed the same day by shares bought is IB's two-leg
        # assignment report even when the option leg was not labelled as one.
        is_assignment_leg = (
            e.sec_type == "STK"
            and e.side == "BOT"
            and same_day
            and pending.price == 0
            and (e.kind == "assignment" or self._delivery("P", e))
        )
        # ...and a call closed at 0 followed the same day by shares delivered at its strike
        # is a call-away of shares held before the history.
        is_call_away_leg = (
            e.sec_type == "STK"
            and e.side == "SLD"
            and same_day
            and pending.price == 0
            and pending.right == "C"
            and (e.kind in ("assignment", "exercise") or self._delivery("C", e))
        )
        if is_assignment_leg or is_call_away_leg:
            self.pending_close = None
        elif not is_roll:
            self._close(pending, _closing_outcome(pending))
        else:
            self.pending_close = None

    def _add_option(self, c: Cycle, e: LedgerEvent, closing_unknown: bool) -> None:
        """An option leg: its premium, what it leaves open, and whether it rolls."""
        if closing_unknown:
            c.unknown_options += e.quantity
        else:
            signed = -e.quantity if e.side == "SLD" else e.quantity
            self.options[e.contract_key] += signed
        if e.right == "P":
            c.put_premium += e.cash
        else:
            c.call_premium += e.cash
        if e.kind == "assignment":
            if e.right == "P":
                c.assigned = True
            else:
                c.called_away = True
        if e.side == "BOT" and e.price == 0:
            self.zero_close[e.right] = (e.local_date, e.strike, e.quantity * e.multiplier)
        if e.kind == "trade" and e.side == "BOT":
            sale = self.last_sale.get(e.right)
            if sale is not None and sale[0] == e.local_date and sale[1] != e.contract_key:
                # a roll whose new leg was reported first
                c.rolls += 1
                self.last_sale.pop(e.right, None)
            else:
                self.last_buyback[e.right] = e.local_date
        elif e.kind == "trade" and self.last_buyback.get(e.right) == e.local_date:
            c.rolls += 1
            self.last_buyback.pop(e.right, None)
        elif e.kind == "trade":
            self.last_sale[e.right] = (e.local_date, e.contract_key)

    def _add_stock(self, c: Cycle, e: LedgerEvent) -> None:
        """Shares in (bought, assigned, an opening lot) or out (sold, called away)."""
        if e.side == "BOT" or e.kind == "lot":
            c.shares += e.quantity
            c.shares_acquired += e.quantity
            c.acquisition_cost += e.quantity * e.price
            if e.kind == "assignment" or self._delivery("P", e):
                c.assigned = True
            return
        held = max(c.shares, ZERO)
        if e.quantity > held:
            # Shares the ledger never saw bought: their cost is unknown, so is the P&L.
            c.unknown_shares += e.quantity - held
        c.shares -= e.quantity
        c.stock_proceeds += e.quantity * e.price
        # IB's call-away: the short call closes at 0 and the shares go the same day at
        # its strike. A market sale (another price, or no call closed) is a sale.
        called = e.kind in ("assignment", "exercise") or self._delivery("C", e)
        self.last_stock_sale_called = called
        if self.last_stock_sale_called:
            c.called_away = True

    def _cycle_flat(self, c: Cycle, e: LedgerEvent) -> None:
        """No shares and no option open after `e`: the cycle ends, or waits for the leg that
        says how (an assignment's stock leg, a roll's sale)."""
        if c.shares_acquired > 0 or c.unknown_shares:
            # the last disposal names the outcome: two lots, one called away and the
            # other sold at market, closes "sold".
            self._close(e, "called_away" if self.last_stock_sale_called else "sold")
        elif c.assigned or (
            e.sec_type == "OPT" and e.right == "C" and e.kind in ("assignment", "exercise")
        ):
            pass  # the option's assignment leg came first; the stock leg follows
        elif e.kind == "trade" and e.sec_type == "OPT" and e.side == "BOT":
            self.pending_close = e  # flat after a buy-back: a roll if a sale follows today
        else:
            self._close(e, "expired")

    def finish(self) -> list[Cycle]:
        if self.pending_close is not None:
            self._close(self.pending_close, _closing_outcome(self.pending_close))
        return self.cycles


def build_cycles(events: list[LedgerEvent]) -> list[Cycle]:
    """Every wheel cycle of every ticker, oldest first within a ticker."""
    by_symbol: dict[str, list[LedgerEvent]] = defaultdict(list)
    for e in events:
        by_symbol[e.symbol.upper()].append(e)
    cycles: list[Cycle] = []
    for symbol in sorted(by_symbol):
        builder = _Builder(symbol)
        # Stable sort: events at the same instant keep their given order (IB's order).
        for e in sorted(by_symbol[symbol], key=lambda x: x.time):
            builder.add(e)
        cycles.extend(builder.finish())
    return cycles


@dataclass
class TickerSummary:
    symbol: str
    cycles: int = 0
    open_cycles: int = 0
    premium: Decimal = ZERO
    dividends: Decimal = ZERO
    fees: Decimal = ZERO
    realised_pnl: Decimal = ZERO
    capital_days: Decimal = ZERO
    days: int = 0

    @property
    def annualised_return(self) -> Decimal | None:
        """Realised P&L over capital-weighted days of the ticker's closed cycles."""
        if not self.capital_days:
            return None
        return self.realised_pnl / self.capital_days * Decimal(365) * 100


def summarise(cycles: list[Cycle]) -> list[TickerSummary]:
    out: dict[str, TickerSummary] = {}
    for c in cycles:
        s = out.setdefault(c.symbol, TickerSummary(c.symbol))
        s.cycles += 1
        s.premium += c.premium
        s.dividends += c.dividends
        s.fees += c.fees
        s.days += c.days()
        if c.closed:
            s.realised_pnl += c.realised_pnl or ZERO
            s.capital_days += c.capital * c.days()
        else:
            s.open_cycles += 1
    return sorted(out.values(), key=lambda s: s.symbol)


def monthly_premium(events: list[LedgerEvent]) -> dict[str, Decimal]:
    """Net option premium by month of the trade (YYYY-MM), US/Eastern dates."""
    months: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for e in events:
        if e.sec_type == "OPT":
            months[e.local_date.strftime("%Y-%m")] += e.cash
    return dict(sorted(months.items()))
