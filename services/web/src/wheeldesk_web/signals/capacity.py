"""Cash-secured capacity: the cash still free to secure a new short put.

capacity = cash - collateral of the short puts held (strike x multiplier x contracts)
         - collateral of the sell-put orders still working (strike x multiplier x contracts
           not yet filled: a filled part is a position already counted above).

Margin buying power (IB's, often several times the cash) is the wrong number for a
cash-secured put: the dashboard shows this one beside it, every scan sends it to the
screener (`ScanRequest.cash_capacity`), and the order preview's collateral check compares a
new put's collateral with it. One definition here, used by all three.

Wheeldesk's own working orders live in the `orders` app, above this one in the app layers: it
registers the function that lists them (`register_own_working`, from `OrdersConfig.ready`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.orders import Order as BridgeOrder

ZERO = Decimal(0)


def _dec(x: object) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


@dataclass(frozen=True)
class WorkingPut:
    """A sell-put order not yet (fully) filled: the contracts still to fill tie up cash."""

    label: str
    strike: Decimal
    contracts: Decimal
    multiplier: int = 100

    @property
    def collateral(self) -> Decimal:
        return self.strike * self.multiplier * self.contracts


@dataclass(frozen=True)
class Capacity:
    """The three numbers behind the capacity, USD, kept so a page can show the sum."""

    cash: Decimal
    short_puts: Decimal
    working_puts: Decimal

    @property
    def available(self) -> Decimal:
        return self.cash - self.short_puts - self.working_puts


def short_put_collateral(positions: Iterable[Position]) -> Decimal:
    """Strike x multiplier x contracts of every short put held."""
    return sum(
        (
            -_dec(p.quantity) * _dec(p.strike) * p.contract_multiplier
            for p in positions
            if p.sec_type == "OPT" and p.right == "P" and p.quantity < 0 and p.strike
        ),
        ZERO,
    )


def compute(
    account: Account | None, positions: Iterable[Position], working: Iterable[WorkingPut]
) -> Capacity | None:
    """The capacity, or None when IB reported no cash (never a guess)."""
    if account is None or account.cash is None:
        return None
    return Capacity(
        cash=_dec(account.cash),
        short_puts=short_put_collateral(positions),
        working_puts=sum((w.collateral for w in working), ZERO),
    )


# client order ids to leave out -> (client order id, what is still to fill or None) per order
OwnWorking = Callable[[set[str]], list[tuple[str, WorkingPut | None]]]
_own_working: list[OwnWorking] = []


def register_own_working(own: OwnWorking) -> None:
    _own_working[:] = [own]


def own_working(skip: set[str]) -> list[tuple[str, WorkingPut | None]]:
    """Wheeldesk's own working sell puts; refuses to guess if `orders` registered nothing
    (a capacity without them would overstate the cash free to secure a new put)."""
    if not _own_working:
        raise RuntimeError("the orders app has not registered its working orders")
    return _own_working[0](skip)


def working_sell_puts(
    bridge_orders: Iterable[BridgeOrder], *, exclude_client_ids: Iterable[str] = ()
) -> list[WorkingPut]:
    """Sell-put orders still working: Wheeldesk's own (sending or at IB) and the bridge's
    (orders placed in TWS too), each once; `exclude_client_ids` leaves out the order being
    checked (its collateral is the one compared)."""
    skip = set(exclude_client_ids)
    seen = set(skip)
    out: list[WorkingPut] = []
    for client_order_id, put in own_working(skip):
        seen.add(client_order_id)
        if put is not None:
            out.append(put)
    for b in bridge_orders:
        r = b.request
        if b.client_order_id in seen or b.status.is_terminal:
            continue
        if getattr(r, "legs", None) is not None:
            continue  # a combo (a roll): the put bought back frees what the new one ties up
        if r.sec_type != "OPT" or r.action != "SELL" or r.right != "P" or r.strike is None:
            continue
        left = _dec(r.quantity) - _dec(b.filled or 0)
        if left > 0:
            label = f"SELL {r.quantity} {r.symbol} {r.strike:g}P ({b.status.value})"
            out.append(WorkingPut(label, _dec(r.strike), left, 100))
    return out


def current(bridge, *, exclude_client_ids: Iterable[str] = ()) -> Capacity | None:  # type: ignore[no-untyped-def]
    """Ask the bridge (account, positions, orders) and compute the capacity now."""
    account = bridge.account()
    positions = bridge.positions()
    orders = bridge.orders()
    return compute(
        account, positions, working_sell_puts(orders, exclude_client_ids=exclude_client_ids)
    )
