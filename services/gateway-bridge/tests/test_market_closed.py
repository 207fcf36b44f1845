"""The bridge in a closed market: a Saturday on tws-sim's NYSE calendar (issue 18).

IB shows a closed market without bid/ask on a live (type 1) line; the bridge asks for frozen
data (type 2) so a weekend scan still sees the last session's quotes, labels every one of them
frozen, and reports the market's state (closed, the last close, the next open, simulated) in
its status for the web's header. At the next open the same lines turn live and an order placed
while closed, which rested, fills.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from bridge_helpers import bridge_env, client, ctl, wait_for
from wheeldesk.schemas.common import DataType
from wheeldesk.schemas.connection import ConnectionStatus
from wheeldesk.schemas.orders import OrderRequest, OrderStatus
from wheeldesk_testing.moments import NY, SATURDAY
from wheeldesk_testing.procs import Proc, service_proc, tws_sim_proc

LAST_CLOSE = datetime(2026, 6, 18, 16, 0, tzinfo=NY)  # Thu; Fri 06-19 is Juneteenth
NEXT_OPEN = datetime(2026, 6, 22, 9, 30, tzinfo=NY)  # Mon


@pytest.fixture(scope="module")
def saturday_sim() -> Iterator[Proc]:
    """tws-sim of this module's own: the tests advance its clock to Monday's open."""
    proc = tws_sim_proc(start=SATURDAY).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def saturday_bridge(saturday_sim: Proc, nats_server: Proc) -> Iterator[Proc]:
    env = bridge_env(saturday_sim, nats_server.url, IB_SIMULATED="true")  # type: ignore[attr-defined]
    proc = service_proc("gateway-bridge", env).start(timeout=90)
    yield proc
    proc.stop()


def closed_status(bridge: Proc) -> ConnectionStatus:
    """The status once the NYSE calendar has loaded (a background thread after connect)."""
    return wait_for(
        lambda: (s := client(bridge).status()).market_open is not None and s,
        timeout=60,
        what="market state in the bridge status",
    )


def test_status_says_closed_and_simulated(saturday_bridge: Proc, saturday_sim: Proc) -> None:
    status = closed_status(saturday_bridge)
    assert status.market_open is False
    assert status.simulated is True
    assert status.market_data_type == DataType.FROZEN
    assert status.last_close == LAST_CLOSE
    assert status.next_open == NEXT_OPEN
    # IB's clock, not this machine's: Saturday 11:00 ET (plus the seconds the test took).
    assert status.server_time is not None
    assert status.server_time.astimezone(NY).date() == SATURDAY.date()
    assert ctl(saturday_sim, "/state")["market"]["open"] is False


def test_weekend_quotes_are_the_last_sessions_frozen(
    saturday_bridge: Proc, saturday_sim: Proc
) -> None:
    closed_status(saturday_bridge)
    spot = ctl(saturday_sim, "/market")["symbols"]
    quotes = {q.symbol: q for q in client(saturday_bridge).quotes(["KO", "AAPL"])}
    for symbol in ("KO", "AAPL"):
        q = quotes[symbol]
        assert q.market_data_type == DataType.FROZEN, symbol
        # The last session's bid/ask (a live line would have none on a Saturday): prices do
        # not move over a closed market, so they straddle the sim's held price.
        assert q.bid is not None and q.ask is not None, symbol
        assert q.bid <= spot[symbol]["price"] <= q.ask, (symbol, q, spot[symbol])
        assert q.ask - q.bid < 0.01 * spot[symbol]["price"]

    chain = client(saturday_bridge).chain(
        "MSFT", right="P", dte_min=7, dte_max=50, delta_min=0.15, delta_max=0.35
    )
    assert chain.options, "a weekend chain still lists the band"
    assert chain.market_data_type == DataType.FROZEN
    assert all(o.market_data_type == DataType.FROZEN for o in chain.options)
    priced = [o for o in chain.options if o.bid is not None and o.ask is not None]
    assert len(priced) == len(chain.options), "frozen options keep the last session's bid/ask"
    assert all(0 < o.bid <= o.ask for o in priced)  # type: ignore[operator]


def test_order_rests_while_closed_and_fills_at_the_open(
    saturday_bridge: Proc, saturday_sim: Proc
) -> None:
    closed_status(saturday_bridge)
    c = client(saturday_bridge)
    ko = c.quotes(["KO"])[0]
    assert ko.ask is not None
    req = OrderRequest(
        client_order_id=f"wd-{uuid.uuid4().hex[:16]}",
        symbol="KO",
        sec_type="STK",
        action="BUY",
        quantity=10,
        order_type="LMT",
        limit_price=Decimal(str(round(ko.ask * 1.05, 2))),  # marketable, whatever the gap
    )
    order = c.place(req)
    # Placed on a Saturday: IB holds it (PreSubmitted) until Monday 09:30.
    rested = wait_for(
        lambda: (o := c.order(order.order_id)).ib_status == "PreSubmitted" and o,
        timeout=20,
        what="order resting PreSubmitted",
    )
    assert rested.status != OrderStatus.FILLED and rested.filled == 0

    # Monday 09:31 on the simulated clock: the market opens, the order fills, lines go live.
    seconds = (NEXT_OPEN - SATURDAY).total_seconds() + 60
    ctl(saturday_sim, "/control/advance", {"seconds": seconds})
    filled = wait_for(
        lambda: (o := c.order(order.order_id)).status == OrderStatus.FILLED and o,
        timeout=30,
        what="order filled at the open",
    )
    assert filled.filled == 10
    status = wait_for(
        lambda: (s := c.status()).market_open and s, timeout=30, what="status open on Monday"
    )
    assert status.market_data_type == DataType.LIVE
    assert status.last_close == LAST_CLOSE
    fresh = wait_for(
        lambda: (q := c.quotes(["AAPL"])[0]).market_data_type == DataType.LIVE and q,
        timeout=30,
        what="live AAPL quote after the open",
    )
    assert fresh.bid is not None and fresh.ask is not None
