"""Wheeldesk's own sell-put orders still working, for the cash-secured capacity.

`signals.capacity` sits below `orders` in the app layers and cannot read `Order`; this
function is registered with it in `OrdersConfig.ready`, so every capacity (dashboard, scan,
collateral check) counts the cash these orders tie up.
"""

from __future__ import annotations

from wheeldesk_web.ledger.cycles import dec
from wheeldesk_web.orders.models import Order
from wheeldesk_web.signals.capacity import WorkingPut


def own_working_puts(skip: set[str]) -> list[tuple[str, WorkingPut | None]]:
    """(client order id, the contracts still to fill) of each working sell put but `skip`;
    None where nothing is left to fill (the id still stands for the order, once)."""
    out: list[tuple[str, WorkingPut | None]] = []
    rows = Order.objects.filter(
        status__in=Order.WORKING, action="SELL", right="P", sec_type="OPT"
    ).exclude(client_order_id__in=skip)
    for o in rows:
        left = dec(o.quantity) - dec(o.filled)
        put = None
        if o.strike is not None and left > 0:
            put = WorkingPut(str(o), dec(o.strike), left, o.multiplier)
        out.append((o.client_order_id, put))
    return out
