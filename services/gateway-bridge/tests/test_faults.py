"""Faults a bridge meets in production, injected into a tws-sim of each test's own."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from bridge_helpers import (
    AUTH,
    Collector,
    api,
    await_until,
    bridge_env,
    client,
    ctl,
    metric,
    wait_for,
)
from wheeldesk.schemas.common import DataType
from wheeldesk.schemas.connection import ConnectionEvent
from wheeldesk.schemas.market import QuoteEvent
from wheeldesk.schemas.orders import ExecutionEvent, Fill, OrderRequest
from wheeldesk_testing.procs import Proc


class Poller:
    """A client polling quotes in a loop, recording each answer's HTTP status."""

    def __init__(self, bridge: Proc, symbol: str = "AAPL") -> None:
        self.bridge = bridge
        self.symbol = symbol
        self.statuses: list[int] = []
        self.retry_after: list[str] = []
        self.codes: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.bridge.url, headers=AUTH, timeout=30) as h:
            while not self._stop.is_set():
                try:
                    r = h.get("/v1/quotes", params={"symbols": self.symbol})
                except httpx.HTTPError:
                    self.statuses.append(-1)
                    continue
                self.statuses.append(r.status_code)
                if r.status_code != 200:
                    self.codes.append(r.json().get("code", ""))
                    if "retry-after" in r.headers:
                        self.retry_after.append(r.headers["retry-after"])
                time.sleep(0.05)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def ok_after_error(self) -> bool:
        if 503 not in self.statuses:
            return False
        last_err = max(i for i, s in enumerate(self.statuses) if s == 503)
        return 200 in self.statuses[last_err:]


async def test_fallback_to_delayed_data(
    tws_sim_factory: Any, service_factory: Any, nats_server: Proc
) -> None:
    sim = tws_sim_factory()
    ctl(sim, "/control/subscription", {"live": False})
    events = await Collector().start(nats_server.url, "ibkr.quote.KO")  # type: ignore[attr-defined]
    try:
        bridge = service_factory(
            "gateway-bridge",
            env=bridge_env(sim, nats_server.url, IB_MARKET_DATA_TYPE="live"),  # type: ignore[attr-defined]
        )
        c = client(bridge)
        assert c.status().market_data_type == DataType.LIVE
        # A stream asked for live data gets 354, falls back and streams delayed quotes.
        c.subscribe(["KO"])
        # Bid and ask arrive as separate ticks; the first coalesced event may hold only one.
        _, data = await events.wait(
            lambda s, d: (
                (e := QuoteEvent.model_validate_json(d)).bid is not None and e.ask is not None
            ),
            what="KO quote with bid and ask",
        )
        q = QuoteEvent.model_validate_json(data)
        assert q.market_data_type == DataType.DELAYED and q.ask is not None
        assert c.status().market_data_type == DataType.DELAYED
        assert c.subscriptions().streaming == ["KO"]
        # Snapshots and chains carry the type actually used.
        quote = c.quotes(["AAPL"])[0]
        assert quote.market_data_type == DataType.DELAYED
        assert quote.bid is not None and quote.ask is not None
        chain = c.chain("KO", right="P", dte_min=7, dte_max=45, delta_min=0.1, delta_max=0.4)
        assert chain.options and chain.market_data_type == DataType.DELAYED
        assert all(o.market_data_type == DataType.DELAYED for o in chain.options)
    finally:
        await events.close()


def test_nightly_restart_and_dropped_socket_while_polling(
    tws_sim_factory: Any, service_factory: Any, nats_server: Proc
) -> None:
    sim = tws_sim_factory()
    bridge = service_factory("gateway-bridge", env=bridge_env(sim, nats_server.url))  # type: ignore[attr-defined]
    pid = bridge.proc.pid  # type: ignore[union-attr]
    c = client(bridge)
    c.subscribe(["AAPL", "KO"])
    with Poller(bridge) as poller:
        wait_for(lambda: 200 in poller.statuses, what="first quote")
        ctl(sim, "/control/restart", {"down_seconds": 3})
        wait_for(lambda: 503 in poller.statuses, what="503 while IB is down")
        ready = api(bridge, "GET", "/readyz")
        assert ready.status_code == 503 and "ibkr" in ready.json()["checks"]
        wait_for(poller.ok_after_error, timeout=60, what="quotes again after the restart")
    assert "ib_unavailable" in poller.codes
    assert poller.retry_after and all(int(v) >= 1 for v in poller.retry_after)
    assert api(bridge, "GET", "/readyz").status_code == 200
    subs = c.subscriptions()
    assert subs.streaming == ["AAPL", "KO"] and subs.stream_lines == 2

    with Poller(bridge, "KO") as poller:
        wait_for(lambda: 200 in poller.statuses, what="quote before the drop")
        ctl(sim, "/control/drop", {})
        wait_for(poller.ok_after_error, timeout=60, what="quotes again after the drop")
    # Nothing was restarted: same bridge process, two reconnects, streams back.
    assert bridge.proc.pid == pid and bridge.running  # type: ignore[union-attr]
    assert metric(bridge, "wheeldesk_bridge_ib_connects_total") >= 3
    assert c.subscriptions().streaming == ["AAPL", "KO"]


async def test_connection_and_quote_events(
    tws_sim_factory: Any, service_factory: Any, nats_server: Proc
) -> None:
    sim = tws_sim_factory()
    events = await Collector().start(nats_server.url)  # type: ignore[attr-defined]
    try:
        bridge = service_factory("gateway-bridge", env=bridge_env(sim, nats_server.url))  # type: ignore[attr-defined]
        client(bridge).subscribe(["AAPL"])
        _, data = await events.wait(lambda s, d: s == "ibkr.quote.AAPL", what="AAPL quote")
        q = QuoteEvent.model_validate_json(data)
        assert q.symbol == "AAPL" and q.market_data_type == DataType.LIVE and q.event_id
        await events.wait(
            lambda s, d: (
                s == "ibkr.connection"
                and ConnectionEvent.model_validate_json(d).state == "connected"
            ),
            what="connected event",
        )
        ctl(sim, "/control/connectivity", {"state": "lost"})
        _, data = await events.wait(
            lambda s, d: (
                s == "ibkr.connection"
                and ConnectionEvent.model_validate_json(d).state == "connectivity_lost"
            ),
            what="1100 event",
        )
        assert ConnectionEvent.model_validate_json(data).ib_code == 1100
        r = api(bridge, "GET", "/readyz")
        assert r.status_code == 503 and "1100" in r.json()["reason"]
        r = api(bridge, "GET", "/v1/account")
        assert r.status_code == 503 and r.json()["code"] == "ib_unavailable"
        assert int(r.headers["retry-after"]) >= 1
        ctl(sim, "/control/connectivity", {"state": "restored"})
        await events.wait(
            lambda s, d: (
                s == "ibkr.connection"
                and ConnectionEvent.model_validate_json(d).state == "connectivity_restored"
            ),
            what="1102 event",
        )
        assert api(bridge, "GET", "/readyz").status_code == 200
        ctl(sim, "/control/farm", {"state": "down"})
        await events.wait(
            lambda s, d: (
                s == "ibkr.connection"
                and ConnectionEvent.model_validate_json(d).state == "farm_down"
            ),
            what="farm down event",
        )
        ctl(sim, "/control/farm", {"state": "up"})
        await events.wait(
            lambda s, d: (
                s == "ibkr.connection" and ConnectionEvent.model_validate_json(d).state == "farm_up"
            ),
            what="farm up event",
        )
        n_quotes = len(events.matching("ibkr.quote.AAPL"))
        ctl(sim, "/control/drop", {})
        await events.wait(
            lambda s, d: (
                s == "ibkr.connection"
                and ConnectionEvent.model_validate_json(d).state == "disconnected"
            ),
            what="disconnected event",
        )
        # Re-subscribed after the reconnect: quotes flow again.
        await events.wait(
            lambda s, d: len(events.matching("ibkr.quote.AAPL")) > n_quotes + 2,
            timeout=60,
            what="quotes after reconnect",
        )
    finally:
        await events.close()


def _order(symbol: str = "KO") -> OrderRequest:
    return OrderRequest(
        client_order_id=f"wd-{uuid.uuid4().hex[:16]}",
        symbol=symbol,
        sec_type="STK",
        action="BUY",
        quantity=100,
        order_type="LMT",
        limit_price=Decimal("1.00"),
        force=True,
    )


def _sim_orders(sim: Proc, ref: str) -> list[dict[str, Any]]:
    return [o for o in ctl(sim, "/state/orders") if o.get("order_ref") == ref]


def test_order_retried_after_timeout_is_placed_once(
    tws_sim_factory: Any, service_factory: Any, nats_server: Proc
) -> None:
    sim = tws_sim_factory()
    bridge = service_factory("gateway-bridge", env=bridge_env(sim, nats_server.url))  # type: ignore[attr-defined]
    ctl(sim, "/control/fill-mode", {"mode": "never"})
    req = _order()
    body = req.model_dump(mode="json")
    ctl(sim, "/control/latency", {"ms": 1500})
    try:
        httpx.post(f"{bridge.url}/v1/orders", json=body, headers=AUTH, timeout=0.3)
        raise AssertionError("the slow placement should have timed out on the client")
    except httpx.TimeoutException:
        pass
    # The client retries at once, twice in parallel, while the first is still in flight.
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda _: api(bridge, "POST", "/v1/orders", json=body, timeout=60), range(2))
        )
    ctl(sim, "/control/latency", {"ms": 0})
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert answers[0].json()["order_id"] == answers[1].json()["order_id"]
    assert len(_sim_orders(sim, req.client_order_id)) == 1


def test_order_retried_after_bridge_restart_is_placed_once(
    tws_sim_factory: Any, service_factory: Any, nats_server: Proc
) -> None:
    sim = tws_sim_factory()
    env = bridge_env(sim, nats_server.url)  # type: ignore[attr-defined]
    bridge = service_factory("gateway-bridge", env=env)
    working, filled = _order(), _order("PEP")
    # One order filled before the restart (found again from IB's executions) …
    ctl(sim, "/control/fill-mode", {"mode": "immediate"})
    r = api(bridge, "POST", "/v1/orders", json=filled.model_dump(mode="json"))
    assert r.status_code == 201, r.text
    wait_for(lambda: client(bridge).order(r.json()["order_id"]).status == "filled", what="filled")
    # … and one still working (found again from IB's open orders).
    ctl(sim, "/control/fill-mode", {"mode": "never"})
    r = api(bridge, "POST", "/v1/orders", json=working.model_dump(mode="json"))
    assert r.status_code == 201, r.text
    working_id = r.json()["order_id"]
    # … and one cancelled (found again from IB's completed orders: no execution names it).
    cancelled = _order("JNJ")
    r = api(bridge, "POST", "/v1/orders", json=cancelled.model_dump(mode="json"))
    assert r.status_code == 201, r.text
    assert api(bridge, "DELETE", f"/v1/orders/{r.json()['order_id']}").status_code == 200
    bridge.restart()
    gone = client(bridge).order(cancelled.client_order_id)
    assert (gone.status, gone.filled, gone.request.quantity) == ("cancelled", 0, 100)
    assert gone.request.symbol == "JNJ" and gone.request.limit_price == Decimal("1.00")
    for req in (working, filled, cancelled):
        again = api(bridge, "POST", "/v1/orders", json=req.model_dump(mode="json"))
        assert again.status_code == 200, again.text
        assert again.json()["client_order_id"] == req.client_order_id
        assert len(_sim_orders(sim, req.client_order_id)) == 1
    assert client(bridge).order(working.client_order_id).order_id == working_id
    assert client(bridge).order(working.client_order_id).status == "submitted"
    assert client(bridge).order(filled.client_order_id).status == "filled"
    listed = {o.client_order_id for o in client(bridge).orders()}
    assert {working.client_order_id, filled.client_order_id, cancelled.client_order_id} <= listed
    changed = working.model_copy(update={"quantity": 200})
    r = api(bridge, "POST", "/v1/orders", json=changed.model_dump(mode="json"))
    assert r.status_code == 409 and r.json()["code"] == "duplicate_client_order_id"


def test_line_budget_and_pacing(
    tws_sim_factory: Any, service_factory: Any, nats_server: Proc
) -> None:
    """A 300-contract chain inside a 100-line budget, paced under IB's message rate.

    Snapshots take 5 s at this tws-sim, so at 45 requests/s the chain would want ~225
    lines at once: the budget must hold it at 100 (tws-sim answers error 101 beyond)."""
    sim = tws_sim_factory(
        extra=["--max-lines", "100", "--pacing", "50", "--snapshot-latency-ms", "5000"]
    )
    # This chain may take every line (CHAIN_LINES_MAX) and 320 quotes (CHAIN_MAX_CONTRACTS): the
    # budget under test is the bridge's whole one.
    bridge = service_factory(
        "gateway-bridge",
        env=bridge_env(
            sim,
            nats_server.url,  # type: ignore[attr-defined]
            MARKET_DATA_LINES="100",
            CHAIN_LINES_MAX="100",
            CHAIN_MAX_CONTRACTS="400",
        ),
    )
    c = client(bridge)
    c.subscribe(["AAPL", "MSFT", "KO"])  # streams hold 3 of the 100 lines throughout
    # First look streams each contract for its open interest; the second is all snapshots.
    for _ in range(2):
        chain = c.chain("AAPL", dte_min=0, dte_max=60, strikes=20)  # 8 expiries × P/C × 20
        assert len(chain.options) >= 300, len(chain.options)
        assert chain.quotes_requested == len(chain.options)
        assert all(o.bid is not None and o.open_interest is not None for o in chain.options)
    assert metric(bridge, "wheeldesk_bridge_lines_peak") == 100
    assert metric(bridge, "wheeldesk_bridge_lines_in_use") == 3
    # Quotes asked while the budget is full are queued, not failed.
    with ThreadPoolExecutor(4) as pool:
        chains = pool.submit(c.chain, "MSFT", dte_min=0, dte_max=30, strikes=10)
        quotes = list(pool.map(lambda s: c.quotes([s])[0], ["KO", "PEP", "JNJ", "PG", "T"]))
        assert len(chains.result().options) >= 40
    assert all(q.price is not None for q in quotes)
    log = bridge.log_text()
    assert "Error 100," not in log and "Error 101," not in log


def test_pacing_queue_timeout_is_429(
    tws_sim_factory: Any, service_factory: Any, nats_server: Proc
) -> None:
    sim = tws_sim_factory(extra=["--snapshot-latency-ms", "1500"])
    bridge = service_factory(
        "gateway-bridge",
        env=bridge_env(sim, nats_server.url, MARKET_DATA_LINES="1", QUEUE_TIMEOUT="0.5"),  # type: ignore[attr-defined]
    )
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda s: api(bridge, "GET", "/v1/quotes", params={"symbols": s}),
                ["KO", "PEP", "JNJ", "PG"],
            )
        )
    statuses = sorted(a.status_code for a in answers)
    assert 200 in statuses and 429 in statuses, statuses
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.json()["code"] == "ib_pacing" and int(limited.headers["retry-after"]) >= 1


def buy_filled_call(bridge: Proc, c: Any, symbol: str, expiry: date, strike: float) -> None:
    """One long call bought through the bridge (its client `c`) and filled (tws-sim in
    fill-mode immediate)."""
    call = OrderRequest(
        client_order_id=f"wd-{uuid.uuid4().hex[:16]}",
        symbol=symbol,
        sec_type="OPT",
        expiry=expiry,
        strike=Decimal(str(strike)),
        right="C",
        action="BUY",
        quantity=1,
        order_type="LMT",
        limit_price=Decimal("1.00"),
        force=True,
    )
    r = api(bridge, "POST", "/v1/orders", json=call.model_dump(mode="json"))
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]
    wait_for(lambda: c.order(order_id).status == "filled", what=f"{symbol} call")


async def settlement(events: Any, symbol: str, kind: str, sec_type: str) -> Fill:
    """The next NATS execution event settling `symbol`'s `sec_type` leg as `kind`."""

    def matches(_: str, data: bytes) -> bool:
        fill = ExecutionEvent.model_validate_json(data).fill
        return (fill.symbol, fill.kind, fill.sec_type) == (symbol, kind, sec_type)

    _, data = await events.wait(matches, what=f"{symbol} {sec_type} {kind}")
    return ExecutionEvent.model_validate_json(data).fill


async def test_expiry_settlements_reach_nats_as_assignment_exercise_and_expiration(
    tws_sim_factory: Any, service_factory: Any, nats_server: Proc
) -> None:
    """One expiry crossed with /control/advance settles three ways; each NATS execution event
    carries the kind a wheel trader reads, as GET /v1/executions does."""
    sim = tws_sim_factory()
    events = await Collector().start(nats_server.url, "ibkr.execution.>")  # type: ignore[attr-defined]
    try:
        bridge = service_factory("gateway-bridge", env=bridge_env(sim, nats_server.url))  # type: ignore[attr-defined]
        c = client(bridge)
        put = next(p for p in c.positions() if p.symbol == "AAPL" and p.sec_type == "OPT")
        assert put.quantity == -1 and put.strike and put.expiry
        # Long calls on the same expiry: AAPL's will end out of the money (expiration), KO's
        # deep in it (exercise: 100 KO shares bought at the strike).
        ko_strike = float(int(ctl(sim, "/market")["symbols"]["KO"]["price"] * 0.9))
        ctl(sim, "/control/fill-mode", {"mode": "immediate"})
        for symbol, strike in (("AAPL", put.strike), ("KO", ko_strike)):
            buy_filled_call(bridge, c, symbol, put.expiry, strike)
        sim_today = date.fromisoformat(ctl(sim, "/state")["sim_time"][:10])
        ctl(sim, "/control/price", {"symbol": "AAPL", "price": round(put.strike * 0.8, 2)})
        ctl(sim, "/control/advance", {"days": (put.expiry - sim_today).days + 1})

        leg = await settlement(events, "AAPL", "assignment", "OPT")
        assert leg.side == "BOT" and leg.price == 0 and leg.quantity == 1 and leg.right == "P"
        assert leg.strike == put.strike and leg.client_order_id is None
        stock = await settlement(events, "AAPL", "assignment", "STK")
        assert stock.side == "BOT" and stock.quantity == 100 and stock.price == put.strike
        lapsed = await settlement(events, "AAPL", "expiration", "OPT")
        assert (lapsed.side, lapsed.price, lapsed.right) == ("SLD", 0, "C")
        assert (await settlement(events, "KO", "exercise", "OPT")).side == "SLD"
        ko = await settlement(events, "KO", "exercise", "STK")
        assert (ko.side, ko.quantity, ko.price) == ("BOT", 100, ko_strike)
        by_exec = {
            (f := ExecutionEvent.model_validate_json(d).fill).exec_id: f
            for _, d in events.matching("ibkr.execution")
        }
        settlements = list(by_exec.values())
        assert sorted((f.symbol, f.sec_type, f.kind) for f in settlements if f.kind != "trade") == [
            ("AAPL", "OPT", "assignment"),
            ("AAPL", "OPT", "expiration"),
            ("AAPL", "STK", "assignment"),
            ("KO", "OPT", "exercise"),
            ("KO", "STK", "exercise"),
        ]
        # The HTTP answer names them the same way.
        fills = [f for f in c.executions() if f.kind != "trade"]
        assert sorted((f.symbol, f.sec_type, f.kind) for f in fills) == sorted(
            (f.symbol, f.sec_type, f.kind) for f in settlements if f.kind != "trade"
        )
        positions = wait_for(
            lambda: [p for p in c.positions() if p.symbol == "AAPL"], what="AAPL shares"
        )
        assert [(p.sec_type, p.quantity) for p in positions] == [("STK", 100)]
    finally:
        await events.close()


async def test_events_survive_a_nats_restart(
    tws_sim_factory: Any, service_factory: Any, fresh_nats: Proc
) -> None:
    import nats

    sim = tws_sim_factory()
    bridge = service_factory("gateway-bridge", env=bridge_env(sim, fresh_nats.url))  # type: ignore[attr-defined]
    wait_for(lambda: client(bridge).status().connected, what="connected")
    fresh_nats.stop()
    # Events raised while NATS is down wait in the bridge …
    ctl(sim, "/control/farm", {"state": "down"})
    ctl(sim, "/control/farm", {"state": "up"})
    wait_for(lambda: client(bridge).status().state == "farm_up", what="the farm back at the bridge")
    fresh_nats.start()
    # … and reach JetStream once it is back.
    nc = await nats.connect(fresh_nats.url)  # type: ignore[attr-defined]
    try:
        js = nc.jetstream()

        async def states() -> list[str]:
            sub = await js.subscribe("ibkr.connection", ordered_consumer=True)
            seen: list[str] = []
            try:
                while True:
                    msg = await sub.next_msg(timeout=1)
                    seen.append(ConnectionEvent.model_validate_json(msg.data).state)
            except nats.errors.TimeoutError:
                pass
            await sub.unsubscribe()
            return seen

        async def farm_back() -> list[str] | None:
            seen = await states()
            return seen if "farm_up" in seen else None

        seen = await await_until(farm_back, 30, "farm_up on JetStream")
        assert seen[0] == "connected"
        assert seen.index("farm_down") < seen.index("farm_up")
    finally:
        await nc.close()
