"""Read endpoints against tws-sim through the real ib_insync client: the numbers a trader checks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from bridge_helpers import api, client, metric
from wheeldesk.clients import ServiceCallError
from wheeldesk.schemas.common import DataType
from wheeldesk_testing.moments import SIM_START
from wheeldesk_testing.procs import Proc

SIM_TODAY = SIM_START.date()


def test_health_ready_and_status(shared_bridge: Proc) -> None:
    assert api(shared_bridge, "GET", "/healthz").json()["status"] == "ok"
    ready = api(shared_bridge, "GET", "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    status = client(shared_bridge).status()
    assert status.connected and status.state == "connected"
    assert status.account_id == "DU7654321"
    assert status.market_data_type == DataType.LIVE
    # IB's clock (tws-sim's pinned simulated time), not this machine's: DTE follows it.
    assert status.server_time is not None
    assert SIM_START <= status.server_time < SIM_START + timedelta(days=45)
    # Everything but health needs the bearer token.
    import httpx

    assert httpx.get(f"{shared_bridge.url}/v1/status").status_code == 401


def test_account(shared_bridge: Proc) -> None:
    acc = client(shared_bridge).account()
    assert acc.account_id == "DU7654321" and acc.is_paper and acc.currency == "USD"
    assert acc.net_liquidation is not None and acc.net_liquidation > 200_000
    assert acc.cash is not None and 200_000 < acc.cash < 300_000
    assert acc.buying_power is not None and acc.buying_power > 0


def test_positions(shared_bridge: Proc) -> None:
    positions = {(p.symbol, p.sec_type): p for p in client(shared_bridge).positions()}
    ko = positions[("KO", "STK")]
    assert ko.quantity == 200 and ko.account_id == "DU7654321"
    assert ko.avg_cost > 0
    put = positions[("AAPL", "OPT")]
    assert put.quantity == -1 and put.right == "P" and put.multiplier == 100
    assert put.expiry is not None and (put.expiry - SIM_TODAY).days == 30  # the July monthly
    aapl = client(shared_bridge).quotes(["AAPL"])[0]
    assert put.strike is not None and aapl.price is not None and put.strike < aapl.price


def test_quotes(shared_bridge: Proc) -> None:
    quotes = client(shared_bridge).quotes(["AAPL", "ko"])
    assert [q.symbol for q in quotes] == ["AAPL", "KO"]
    for q in quotes:
        assert q.bid is not None and q.ask is not None and 0 < q.bid <= q.ask
        assert q.price is not None and q.market_data_type == DataType.LIVE
        assert q.ts is not None


def test_quote_errors(shared_bridge: Proc) -> None:
    r = api(shared_bridge, "GET", "/v1/quotes", params={"symbols": "ZZZZ"})
    assert r.status_code == 404 and r.json()["code"] == "unknown_symbol"
    assert "ZZZZ" in r.json()["message"]
    r = api(shared_bridge, "GET", "/v1/quotes", params={"symbols": " , "})
    assert r.status_code == 422 and r.json()["field"] == "symbols"
    r = api(shared_bridge, "GET", "/v1/quotes")
    assert r.status_code == 422 and r.json()["field"] == "symbols"
    r = api(shared_bridge, "GET", "/v1/quotes", params={"symbols": "AAPL;DROP"})
    assert r.status_code == 422


def test_concurrent_quotes_cost_ib_one_request(shared_bridge: Proc) -> None:
    before = metric(shared_bridge, "wheeldesk_bridge_ib_requests_total")
    clients = [client(shared_bridge) for _ in range(8)]
    start = threading.Barrier(8)  # all eight ask at once, however busy the machine is

    def ask(c):  # type: ignore[no-untyped-def]
        start.wait()
        return c.quotes(["PEP"])[0]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, clients))
    assert len({(q.bid, q.ask) for q in results}) == 1
    after = metric(shared_bridge, "wheeldesk_bridge_ib_requests_total")
    # contract lookup + one snapshot, not eight
    assert after - before <= 2


def test_stock_with_fundamentals(shared_bridge: Proc) -> None:
    info = client(shared_bridge).stock("AAPL")
    assert info.symbol == "AAPL" and info.conid and info.simulated
    assert info.quote.price is not None and info.quote.market_data_type == DataType.LIVE
    f = info.fundamentals
    assert f.beta is not None and 0 < f.beta < 3
    assert f.market_cap is not None and f.market_cap > 1e9
    assert f.roe is not None and f.roe > 0
    assert f.dividend_yield is not None and f.dividend_yield >= 0
    rivn = client(shared_bridge).stock("RIVN").fundamentals
    assert rivn.beta is not None and rivn.beta > 2
    assert rivn.roe is not None and rivn.roe < 0
    assert rivn.free_cash_flow is not None and rivn.free_cash_flow < 0
    r = api(shared_bridge, "GET", "/v1/stocks/ZZZZ")
    assert r.status_code == 404 and r.json()["code"] == "unknown_symbol"


def test_history(shared_bridge: Proc) -> None:
    hist = client(shared_bridge).history("KO", days=60)
    assert hist.symbol == "KO"
    assert 30 <= len(hist.bars) <= 62
    dates = [b.date for b in hist.bars]
    assert dates == sorted(dates)
    for b in hist.bars:
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
    r = api(shared_bridge, "GET", "/v1/stocks/KO/history", params={"days": 0})
    assert r.status_code == 422 and r.json()["field"] == "days"


def test_chain_puts_in_delta_band(shared_bridge: Proc) -> None:
    c = client(shared_bridge)
    chain = c.chain("AAPL", right="P", dte_min=7, dte_max=60, delta_min=0.10, delta_max=0.40)
    assert chain.symbol == "AAPL" and chain.right == "P"
    assert chain.expirations and all(7 <= (e - SIM_TODAY).days <= 60 for e in chain.expirations)
    assert chain.underlying.price is not None
    assert len(chain.options) >= len(chain.expirations)
    # Pre-selection: no more than twice the quotes returned were asked of IB.
    assert chain.quotes_requested <= 2 * len(chain.options)
    for o in chain.options:
        assert o.contract.right == "P" and o.contract.expiry in chain.expirations
        assert o.delta is not None and 0.10 <= abs(o.delta) <= 0.40
        assert o.contract.strike < chain.underlying.price
        assert o.iv is not None and 0 < o.iv < 3
        assert o.bid is not None and o.ask is not None and o.bid <= o.ask
        assert o.open_interest is not None
        assert o.contract.conid
        assert o.market_data_type == DataType.LIVE


def test_chain_errors(shared_bridge: Proc) -> None:
    r = api(shared_bridge, "GET", "/v1/chains/AAPL", params={"right": "X"})
    assert r.status_code == 422 and r.json()["field"] == "right"
    r = api(shared_bridge, "GET", "/v1/chains/AAPL", params={"dte_min": 30, "dte_max": 7})
    assert r.status_code == 422 and r.json()["field"] == "dte_min"
    r = api(shared_bridge, "GET", "/v1/chains/AAPL", params={"delta_min": 2})
    assert r.status_code == 422 and r.json()["field"] == "delta_min"
    r = api(shared_bridge, "GET", "/v1/chains/ZZZZ")
    assert r.status_code == 404
    with pytest.raises(ServiceCallError) as err:
        client(shared_bridge).chain("ZZZZ")
    assert err.value.status == 404


def test_subscriptions_stream_and_replace(shared_bridge: Proc) -> None:
    c = client(shared_bridge)
    subs = c.subscribe(["AAPL", "KO", "ZZZZ"])
    assert subs.symbols == ["AAPL", "KO", "ZZZZ"]
    assert subs.streaming == ["AAPL", "KO"]
    assert "ZZZZ" in subs.errors
    assert subs.stream_lines == 2 and subs.lines_capacity == 100
    again = c.subscriptions()
    assert again.streaming == ["AAPL", "KO"]
    subs = c.subscribe(["KO"])
    assert subs.streaming == ["KO"] and subs.stream_lines == 1 and not subs.errors
    r = api(shared_bridge, "POST", "/v1/subscriptions", json={"symbols": "AAPL"})
    assert r.status_code == 422 and r.json()["field"] == "symbols"
    r = api(shared_bridge, "POST", "/v1/subscriptions", json={"symbols": [], "x": 1})
    assert r.status_code == 422 and r.json()["field"] == "x"
    c.subscribe([])


def test_web_and_screener_asking_together_cost_one_chain(shared_bridge: Proc) -> None:
    params = {"right": "C", "dte_min": 7, "dte_max": 40, "delta_min": 0.15, "delta_max": 0.35}
    before = metric(shared_bridge, "wheeldesk_bridge_ib_requests_total")
    with ThreadPoolExecutor(2) as pool:
        chains = list(pool.map(lambda _: client(shared_bridge).chain("JNJ", **params), range(2)))
    after = metric(shared_bridge, "wheeldesk_bridge_ib_requests_total")
    assert chains[0].options and [o.contract.key for o in chains[0].options] == [
        o.contract.key for o in chains[1].options
    ]
    # One set of option quotes plus a handful of lookups (contract, secdef, expiries, IV).
    assert after - before <= chains[0].quotes_requested + 2 + 2 * len(chains[0].expirations)
