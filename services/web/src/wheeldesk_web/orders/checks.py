"""Pre-trade checks: plain functions over the order, the what-if, the account and positions.

Each returns a `Check` (pass / warn / block) carrying the numbers behind it, so
the preview page can show *why*. A single block disables confirm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.orders import OrderPreview

from wheeldesk_web.ledger.cycles import dec
from wheeldesk_web.signals.capacity import Capacity

Level = Literal["pass", "warn", "block"]
ZERO = Decimal(0)


@dataclass
class Check:
    name: str
    level: Level
    message: str
    numbers: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Limits:
    trading_enabled: bool = True
    max_contracts: int = 10
    max_notional: Decimal = Decimal("100000")
    limit_warn_pct: Decimal = Decimal("10")
    limit_block_pct: Decimal = Decimal("50")
    concentration_pct: Decimal = Decimal("25")
    cash_reserve_pct: Decimal = Decimal("10")


@dataclass
class Ticket:
    """The order being previewed, in the units the checks need."""

    symbol: str
    action: Literal["BUY", "SELL"]
    quantity: int
    limit_price: Decimal | None
    sec_type: str = "OPT"
    right: str | None = None
    strike: Decimal | None = None
    expiry: date | None = None
    multiplier: int = 100

    @property
    def opens_short(self) -> bool:
        return self.sec_type == "OPT" and self.action == "SELL"

    @property
    def collateral(self) -> Decimal:
        """Cash a short put ties up: strike × 100 × contracts (none for calls or closes)."""
        if self.opens_short and self.right == "P" and self.strike is not None:
            return self.strike * self.multiplier * self.quantity
        return ZERO

    @property
    def cash_flow(self) -> Decimal:
        if self.limit_price is None:
            return ZERO
        gross = self.limit_price * self.multiplier * self.quantity
        return gross if self.action == "SELL" else -gross

    def same_contract(self, symbol: str, right: str | None, strike, expiry) -> bool:  # type: ignore[no-untyped-def]
        return (
            symbol.upper() == self.symbol.upper()
            and (right or None) == (self.right or None)
            and (dec(strike) if strike is not None else None)
            == (dec(self.strike) if self.strike is not None else None)
            and expiry == self.expiry
        )


def _pct(x: Decimal) -> str:
    """A configured percentage as typed (50, 12.5), not as stored (50.0000)."""
    return format(dec(x).normalize(), "f")


def _usd(x: Decimal | float | None) -> str:
    return "—" if x is None else f"${dec(x):,.2f}"


def check_trading_enabled(limits: Limits) -> Check:
    if not limits.trading_enabled:
        return Check("Trading switch", "block", "Trading is disabled in settings: no new orders.")
    return Check("Trading switch", "pass", "Trading is enabled.")


def check_collateral(
    t: Ticket,
    preview: OrderPreview | None,
    account: Account | None,
    capacity: Capacity | None = None,
) -> Check:
    """A new short put's collateral against the cash-secured capacity (cash - puts short -
    sell puts working) when known: a cash-secured put needs cash, not margin buying power.
    Without the capacity (no cash from IB), buying power is the fallback, named as such."""
    if t.collateral == 0:
        return Check("Collateral", "pass", "No cash collateral needed for this order.")
    if capacity is not None:
        free = capacity.available
        nums = {
            "collateral": _usd(t.collateral),
            "cash": _usd(capacity.cash),
            "securing short puts": _usd(capacity.short_puts),
            "working sell puts": _usd(capacity.working_puts),
            "cash-secured capacity": _usd(free),
        }
        if t.collateral > free:
            return Check(
                "Collateral",
                "block",
                f"Collateral {_usd(t.collateral)} exceeds the cash-secured capacity "
                f"{_usd(free)} (cash less the puts already short or working).",
                nums,
            )
        nums["left after"] = _usd(free - t.collateral)
        return Check("Collateral", "pass", "Cash-secured capacity covers the put.", nums)
    available = None
    if preview is not None and preview.buying_power_before is not None:
        available = dec(preview.buying_power_before)
    elif account is not None:
        available = dec(account.available_funds or account.buying_power or account.cash)
    nums = {"collateral": _usd(t.collateral), "buying power": _usd(available)}
    if available is None:
        return Check("Collateral", "warn", "Buying power unknown; cannot verify.", nums)
    if t.collateral > available:
        return Check(
            "Collateral",
            "block",
            f"Collateral {_usd(t.collateral)} exceeds buying power {_usd(available)}.",
            nums,
        )
    nums["left after"] = _usd(available - t.collateral)
    return Check("Collateral", "pass", "Buying power covers the put's collateral.", nums)


def _short_calls(positions: list[Position], symbol: str) -> Decimal:
    return sum(
        (
            -dec(p.quantity)
            for p in positions
            if p.symbol == symbol and p.sec_type == "OPT" and p.right == "C" and p.quantity < 0
        ),
        ZERO,
    )


def _shares(positions: list[Position], symbol: str) -> Decimal:
    return sum(
        (dec(p.quantity) for p in positions if p.symbol == symbol and p.sec_type == "STK"), ZERO
    )


def check_covered(t: Ticket, positions: list[Position]) -> Check:
    if not (t.opens_short and t.right == "C"):
        return Check("Covered call", "pass", "Not a call sale.")
    shares = _shares(positions, t.symbol)
    already = _short_calls(positions, t.symbol)
    free = shares - already * 100
    need = Decimal(t.quantity * t.multiplier)
    nums = {
        "shares held": f"{shares:,.0f}",
        "already covered by short calls": f"{already * 100:,.0f}",
        "needed": f"{need:,.0f}",
    }
    if free < need:
        return Check(
            "Covered call",
            "block",
            f"Only {max(free, ZERO):,.0f} uncovered shares for {t.quantity} contract(s): "
            "Wheeldesk never sells a naked call.",
            nums,
        )
    return Check("Covered call", "pass", "Enough shares to cover every contract.", nums)


def check_limit_vs_mid(t: Ticket, preview: OrderPreview | None, limits: Limits) -> Check:
    mid = dec(preview.mid) if preview is not None and preview.mid is not None else None
    if t.limit_price is None:
        return Check("Limit vs mid", "warn", "Market order: no price protection.")
    if mid is None or mid <= 0:
        return Check(
            "Limit vs mid",
            "warn",
            "No current mid to compare with.",
            {"limit": _usd(t.limit_price)},
        )
    away = (t.limit_price - mid) / mid * 100
    # Only the unfavourable side matters: selling below mid, buying above it.
    worse = -away if t.action == "SELL" else away
    nums = {"limit": _usd(t.limit_price), "mid": _usd(mid), "away from mid": f"{away:+.1f}%"}
    bid = dec(preview.bid) if preview is not None and preview.bid else None
    ask = dec(preview.ask) if preview is not None and preview.ask else None
    inside = bid is not None and ask is not None and bid <= t.limit_price <= ask
    # A limit inside the quoted market is never "far outside" it (cheap options have wide
    # percentage spreads); only a limit beyond bid/ask and the block band is refused.
    if abs(away) >= limits.limit_block_pct and not inside:
        return Check(
            "Limit vs mid",
            "block",
            f"Limit is {abs(away):.1f}% from mid (block at {_pct(limits.limit_block_pct)}%).",
            nums,
        )
    if worse >= limits.limit_warn_pct:
        return Check(
            "Limit vs mid",
            "warn",
            f"Limit gives up {worse:.1f}% versus mid (warn at {_pct(limits.limit_warn_pct)}%).",
            nums,
        )
    return Check("Limit vs mid", "pass", "Limit is within the band around mid.", nums)


def check_caps(t: Ticket, limits: Limits) -> Check:
    notional = (t.strike or t.limit_price or ZERO) * t.multiplier * t.quantity
    nums = {
        "contracts": f"{t.quantity} (cap {limits.max_contracts})",
        "notional": f"{_usd(notional)} (cap {_usd(limits.max_notional)})",
    }
    if t.quantity > limits.max_contracts:
        return Check("Size caps", "block", "Quantity above the per-order cap.", nums)
    if notional > limits.max_notional:
        return Check("Size caps", "block", "Notional above the per-order cap.", nums)
    return Check("Size caps", "pass", "Within quantity and notional caps.", nums)


def check_one_working(t: Ticket, working: list[tuple]) -> Check:
    """`working`: (symbol, right, strike, expiry, label) of orders still working."""
    for symbol, right, strike, expiry, label in working:
        if t.same_contract(symbol, right, strike, expiry):
            return Check(
                "One working order",
                "block",
                f"An order on this contract is still working ({label}); cancel it first.",
            )
    return Check("One working order", "pass", "No other working order on this contract.")


def _ticker_exposure(positions: list[Position], symbol: str) -> Decimal:
    total = ZERO
    for p in positions:
        if p.symbol != symbol:
            continue
        if p.sec_type == "STK":
            total += abs(
                dec(p.market_value if p.market_value is not None else p.quantity * p.avg_cost)
            )
        elif p.right == "P" and p.quantity < 0 and p.strike is not None:
            total += -dec(p.quantity) * dec(p.strike) * p.contract_multiplier
    return total


def check_concentration(
    t: Ticket, positions: list[Position], account: Account | None, limits: Limits
) -> Check:
    nlv = dec(account.net_liquidation) if account and account.net_liquidation else None
    if not nlv:
        return Check("Concentration", "warn", "Net liquidation unknown; cannot verify.")
    after = _ticker_exposure(positions, t.symbol) + t.collateral
    share = after / nlv * 100
    nums = {
        f"{t.symbol} exposure after": _usd(after),
        "net liquidation": _usd(nlv),
        "share": f"{share:.1f}% (limit {_pct(limits.concentration_pct)}%)",
    }
    if share > limits.concentration_pct:
        return Check(
            "Concentration", "warn", f"{t.symbol} would be {share:.1f}% of net liquidation.", nums
        )
    return Check("Concentration", "pass", "Within the concentration limit.", nums)


def check_cash_reserve(
    t: Ticket, account: Account | None, positions: list[Position], limits: Limits
) -> Check:
    if account is None or account.cash is None or not account.net_liquidation:
        return Check("Cash reserve", "warn", "Cash unknown; cannot verify.")
    cash = dec(account.cash)
    # Cash already securing existing short puts is not free either.
    committed = sum(
        (
            -dec(p.quantity) * dec(p.strike) * p.contract_multiplier
            for p in positions
            if p.sec_type == "OPT" and p.right == "P" and p.quantity < 0 and p.strike
        ),
        ZERO,
    )
    after = cash - committed + t.cash_flow - t.collateral
    reserve = dec(account.net_liquidation) * limits.cash_reserve_pct / 100
    nums = {
        "cash now": _usd(cash),
        "securing short puts": _usd(committed),
        "free cash after": _usd(after),
        "reserve": _usd(reserve),
    }
    if after < 0:
        return Check("Cash reserve", "block", "Not enough cash to secure this order.", nums)
    if after < reserve:
        return Check(
            "Cash reserve", "warn", "Free cash after the trade is below the reserve.", nums
        )
    return Check("Cash reserve", "pass", "Cash reserve kept.", nums)


def check_events(t: Ticket, earnings: date | None, ex_dividend: date | None, today: date) -> Check:
    if t.expiry is None or not t.opens_short:
        return Check("Earnings / dividend", "pass", "Not opening a short option.")
    found = []
    if earnings and today <= earnings <= t.expiry:
        found.append(f"earnings {earnings:%Y-%m-%d}")
    if ex_dividend and today <= ex_dividend <= t.expiry:
        found.append(f"ex-dividend {ex_dividend:%Y-%m-%d}")
    if found:
        extra = " (early assignment risk on calls)" if t.right == "C" and ex_dividend else ""
        return Check(
            "Earnings / dividend",
            "warn",
            f"{' and '.join(found)} before expiry {t.expiry:%Y-%m-%d}{extra}.",
        )
    return Check("Earnings / dividend", "pass", "No earnings or ex-dividend date before expiry.")


def run_checks(
    t: Ticket,
    *,
    preview: OrderPreview | None,
    account: Account | None,
    positions: list[Position],
    working: list[tuple],
    limits: Limits,
    earnings: date | None = None,
    ex_dividend: date | None = None,
    today: date,
    capacity: Capacity | None = None,
) -> list[Check]:
    return [
        check_trading_enabled(limits),
        check_collateral(t, preview, account, capacity),
        check_covered(t, positions),
        check_limit_vs_mid(t, preview, limits),
        check_caps(t, limits),
        check_one_working(t, working),
        check_concentration(t, positions, account, limits),
        check_cash_reserve(t, account, positions, limits),
        check_events(t, earnings, ex_dividend, today),
    ]


def blocked(checks: list[Check] | list[dict]) -> bool:
    return any((c.level if isinstance(c, Check) else c.get("level")) == "block" for c in checks)
