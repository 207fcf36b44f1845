"""The bid and ask an order is checked and priced against, as soon as IB gives them.

IB answers a snapshot request only once it has every field, the option model's included: one
to two seconds for an option, the whole of a preview's time budget. A streaming line delivers
the touch with its first ticks. So while the market is open an order's quote is a streaming
line held just until the first two-sided quote (at most `FIRST_TICK_WAIT`), then cancelled;
a snapshot remains the way when that gives nothing (the market closed, no bid, no line free in
time), as before. A snapshot still cached (asked within the last second) is used as it is.
"""

from __future__ import annotations

import logging
from typing import Any

from ib_insync import Contract
from wheeldesk.errors import ServiceError

from gateway_bridge.connection import IBSession
from gateway_bridge.marketdata import MarketData, num

log = logging.getLogger(__name__)
FIRST_TICK_WAIT = 1.0  # seconds a streaming line may take to show both sides


def _two_sided(t: Any) -> bool:
    bid, ask = num(t.bid), num(t.ask)
    return bid is not None and ask is not None and ask > 0


async def bid_ask(
    md: MarketData, session: IBSession, contract: Contract
) -> tuple[float | None, float | None]:
    """(bid, ask) now, or (None, None) when IB has no quote (the preview then warns)."""
    cached = md.snapshots.get(contract.conId) if contract.conId else None
    if cached is not None:
        return num(cached.bid), num(cached.ask)
    state = session.market_state()
    if state is not None and state.open:
        try:
            t = await md.stream_until(contract, "", _two_sided, owner="order", wait=FIRST_TICK_WAIT)
        except ServiceError:
            raise
        except Exception as exc:  # the snapshot below is the fallback
            log.info("no streamed quote for the order (%s); asking a snapshot", exc)
        else:
            if _two_sided(t):
                return num(t.bid), num(t.ask)
    try:
        t = await md.snapshot(contract, owner="order")
    except ServiceError:
        raise
    except Exception as exc:  # no quote: the check cannot run, the preview warns
        log.warning("no quote for order check: %s", exc)
        return None, None
    return num(t.bid), num(t.ask)
