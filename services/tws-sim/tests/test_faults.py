"""Fault injection through the control API, each followed by a successful reconnect."""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import sys
from typing import Any

import pytest
from ib_insync import IB, LimitOrder, Stock
from twssim_helpers import ErrorLog, connect, ctl, next_client_id, ticking, wait_for

# Ticks every 50 ms: a stream stopping or resuming shows within a few polls.
FAST_TICKS = ["--tick-ms", "50"]


async def reconnect_works(sim) -> None:
    ib, _ = await connect(sim)
    try:
        assert ib.managedAccounts() == ["DU7654321"]
        assert await ib.reqCurrentTimeAsync() is not None
        [c] = await ib.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        [t] = await ib.reqTickersAsync(c)
        assert t.bid > 0
    finally:
        ib.disconnect()


async def dropped_by(sim, path: str, body: dict) -> Any:
    """The control call's answer, once the connected client has seen it cut the connection."""
    ib, _ = await connect(sim)
    dropped = asyncio.Event()
    ib.disconnectedEvent += lambda: dropped.set()
    answer = ctl(sim, path, body)
    await asyncio.wait_for(dropped.wait(), 20)
    assert not ib.isConnected()
    return answer


async def test_drop_all_connections(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    assert (await dropped_by(sim, "/control/drop", {}))["dropped"] == 1
    await reconnect_works(sim)


async def test_nightly_restart_refuses_then_accepts(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    await dropped_by(sim, "/control/restart", {"down_seconds": 2})
    probe = IB()
    with pytest.raises((ConnectionRefusedError, OSError, asyncio.TimeoutError, ConnectionError)):
        await probe.connectAsync("127.0.0.1", sim.port, clientId=next_client_id(), timeout=1)
    probe.disconnect()
    await wait_for(lambda: ctl(sim, "/state")["faults"]["accepting"], what="accepting again")
    await reconnect_works(sim)


async def announced(sim, errors: ErrorLog, path: str, body: dict, code: int) -> None:
    """Make the control call and wait for the client to get IB's message `code` about it."""
    ctl(sim, path, body)
    await wait_for(lambda: code in errors.codes(), what=f"{code} after {path} {body}")


async def test_connectivity_lost_and_restored(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=FAST_TICKS)
    async with ticking(sim) as (ib, errors, _):
        connectivity = "/control/connectivity"
        await announced(sim, errors, connectivity, {"state": "lost"}, 1100)
        await announced(sim, errors, connectivity, {"state": "restored"}, 1102)
        ctl(sim, connectivity, {"state": "lost"})
        await announced(sim, errors, connectivity, {"state": "restored", "data_lost": True}, 1101)
        n = len(errors.items)
        assert ib.isConnected() and n
    await reconnect_works(sim)


def streamed_updates(sim) -> int:
    """Quote updates tws-sim has streamed to its clients' lines (`GET /state/requests`)."""
    return ctl(sim, "/state/requests")["streamed"]["updates"]


async def moved_and_stepped(sim, symbol: str, by: float) -> None:
    """Move `symbol`'s price `by` dollars, then wait until tws-sim's tick loop has stepped from
    there: a step on which a streaming line's quote, dollars from its last, is due."""
    price = ctl(sim, "/market")["symbols"][symbol]["price"] + by
    ctl(sim, "/control/price", {"symbol": symbol, "price": price})
    await wait_for(
        lambda: ctl(sim, "/market")["symbols"][symbol]["price"] != price,
        what=f"a step from {symbol} {price}",
    )


async def test_market_data_farm_down_and_up(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=FAST_TICKS)
    async with ticking(sim) as (ib, errors, t):
        updates: list[Any] = []
        t.updateEvent += lambda ticker: updates.append(ticker.time)
        await announced(sim, errors, "/control/farm", {"state": "down"}, 2103)
        # One socket, in order: every tick sent before the 2103 has arrived with it.
        received, streamed = len(updates), streamed_updates(sim)
        await moved_and_stepped(sim, "KO", 5.0)  # a line up would tick on this step
        # A round trip on the same socket: anything sent before its answer has arrived too.
        assert await ib.reqCurrentTimeAsync() is not None
        assert (len(updates), streamed_updates(sim)) == (received, streamed)  # no ticks
        ctl(sim, "/control/farm", {"state": "up"})
        await wait_for(
            lambda: [c for c in errors.codes() if c == 2104].__len__() >= 2, what="2104 again"
        )
        await wait_for(lambda: len(updates) > received, what="ticks resume")
        await moved_and_stepped(sim, "KO", -5.0)
        await wait_for(lambda: streamed_updates(sim) > streamed, what="streaming again")
    await reconnect_works(sim)


# Long enough for a client connected after the latency went back to 0 to connect and ask (the
# margin of an ordering, not a measured duration); the test waits it once, for the held answer.
HELD_MS = 8000  # a full ib_insync connect (its start-up sync) takes ~1 s on a loaded CI core


def asked(sim, request: str) -> int:
    return ctl(sim, "/state/requests")["requests"].get(request, 0)


async def answers_held_back(sim) -> None:
    """An answer tws-sim made while the latency was set arrives after one it made later, on a
    connection opened once the latency was back to 0: the latency is applied to what the
    simulator sends, not only stored. Two events in order, no stopwatch."""
    slow, _ = await connect(sim)
    fast: IB | None = None
    try:
        assert ctl(sim, "/control/latency", {"ms": HELD_MS}) == {"ms": HELD_MS}
        assert ctl(sim, "/state")["faults"]["latency_ms"] == HELD_MS
        before = asked(sim, "reqCurrentTime")
        held = asyncio.ensure_future(slow.reqCurrentTimeAsync())
        # tws-sim answers a request as it reads it: counted means answered (and queued).
        await wait_for(lambda: asked(sim, "reqCurrentTime") > before, what="tws-sim answered")
        ctl(sim, "/control/latency", {"ms": 0})
        fast, _ = await connect(sim)
        assert await fast.reqCurrentTimeAsync() is not None
        assert not held.done()  # made first, still on its way
        assert await asyncio.wait_for(held, 30) is not None  # and delivered
    finally:
        slow.disconnect()
        if fast is not None:
            fast.disconnect()


async def test_latency_and_subscription_faults(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    await answers_held_back(sim)
    await reconnect_works(sim)

    ctl(sim, "/control/subscription", {"live": False})
    ib, errors = await connect(sim)
    try:
        [c] = await ib.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        ib.reqMktData(c, "", False, False)
        await wait_for(lambda: 354 in errors.codes(), what="354 without a live subscription")
        ib.cancelMktData(c)
        ib.reqMarketDataType(4)
        [t] = await ib.reqTickersAsync(c)
        assert t.marketDataType == 3 and t.bid > 0  # delayed-frozen is delayed while open
    finally:
        ib.disconnect()
    ctl(sim, "/control/subscription", {"live": True})
    await reconnect_works(sim)


async def test_reject_then_reconnect(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    ctl(sim, "/control/reject-next-order", {"code": 201, "message": "Order rejected - reason: x"})
    ib, errors = await connect(sim)
    try:
        [c] = await ib.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        trade = ib.placeOrder(c, LimitOrder("BUY", 1, 1.0))
        await wait_for(lambda: 201 in errors.codes(), what="201")
        assert trade.orderStatus.status == "Cancelled"
    finally:
        ib.disconnect()
    await reconnect_works(sim)


def _raw(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def _frame(text: str) -> bytes:
    b = text.encode()
    return struct.pack(">I", len(b)) + b


def _handshake(port: int, client_id: int) -> socket.socket:
    s = _raw(port)
    s.sendall(b"API\0" + _frame("v157..176"))
    s.recv(4096)
    s.sendall(_frame(f"71\x002\x00{client_id}\x00\x00"))
    return s


async def test_malformed_clients_never_crash_the_server(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=FAST_TICKS)
    async with ticking(sim, "AAPL") as (ib, _, t):

        def abuse() -> None:
            s = _raw(sim.port)  # garbage instead of the handshake → closed
            s.sendall(b"GET / HTTP/1.1\r\n\r\n")
            assert s.recv(100) == b""
            s.close()
            s = _raw(sim.port)  # truncated frame then hang-up
            s.sendall(b"API\0" + struct.pack(">I", 50) + b"v157")
            s.close()
            s = _raw(sim.port)  # absurd length prefix → closed
            s.sendall(b"API\0" + struct.pack(">I", 2**31))
            assert s.recv(100) == b""
            s.close()
            s = _handshake(sim.port, 9001)  # bad requests after a good handshake → error 320
            s.sendall(_frame("9\x008\x00notanumber\x00"))
            s.sendall(_frame("1\x0011\x00"))
            s.sendall(_frame("3\x001\x00"))
            s.sendall(_frame("abc\x00"))
            s.sendall(_frame("\xff\xfe\x00"))
            got = b""
            s.settimeout(5)
            while got.count(b"\x00320\x00") < 5:
                chunk = s.recv(65536)
                assert chunk, "server closed a connection that only sent bad requests"
                got += chunk
            s.sendall(struct.pack(">I", 10) + b"49\x00")  # truncated mid-message, then close
            s.close()

        await asyncio.get_running_loop().run_in_executor(None, abuse)
        n = len(t.ticks)
        before = t.time
        await wait_for(lambda: t.time != before, what="other client keeps streaming")
        assert ib.isConnected() and n >= 0
        assert ctl(sim, "/healthz")["status"] == "ok"
    await reconnect_works(sim)


def test_ctl_cli_round_trip(tws_sim) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tws_sim.ctl", "--control-url", tws_sim.control_url, "state"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert '"account_id": "DU7654321"' in out.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "tws_sim.ctl",
            "--control-url",
            tws_sim.control_url,
            "fill-mode",
            "sometimes",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and '"field": "mode"' in bad.stdout


def test_control_api_rejects_bad_bodies(tws_sim) -> None:
    import httpx

    r = httpx.post(tws_sim.control_url + "/control/latency", json={"ms": "slow"}, timeout=10)
    assert r.status_code == 400 and r.json()["field"] == "ms"
    r = httpx.post(
        tws_sim.control_url + "/control/price", json={"symbol": "ZZZZ", "price": 1}, timeout=10
    )
    assert r.status_code == 400 and r.json()["field"] == "symbol"
    r = httpx.post(tws_sim.control_url + "/control/drop", content=b"{not json", timeout=10)
    assert r.status_code == 400
    assert httpx.get(tws_sim.control_url + "/nope", timeout=10).status_code == 404


async def test_fuzzed_requests_get_errors_not_crashes(tws_sim_factory) -> None:
    import random

    sim = tws_sim_factory(extra=[*FAST_TICKS, "--pacing", "0"])
    async with ticking(sim, "MSFT") as (_, _, t):
        rng = random.Random(7)
        tokens = [
            "",
            "0",
            "1",
            "-1",
            "AAPL",
            "OPT",
            "STK",
            "SMART",
            "P",
            "C",
            "1e308",
            "nan",
            "99999999999999999999",
            "20270115",
            "1 Y",
            "1 day",
            "TRADES",
            "x" * 300,
        ]

        def fuzz() -> None:
            s = _handshake(sim.port, 9100)
            for _ in range(400):
                msg_id = str(rng.randint(0, 110))
                fields = [msg_id] + [rng.choice(tokens) for _ in range(rng.randint(0, 40))]
                s.sendall(_frame("\x00".join(fields) + "\x00"))
            s.settimeout(2)
            with __import__("contextlib").suppress(OSError):
                while s.recv(1 << 20):
                    pass
            s.close()

        def drain_later() -> None:
            import threading

            th = threading.Thread(target=fuzz, daemon=True)
            th.start()
            th.join(60)

        await asyncio.get_running_loop().run_in_executor(None, drain_later)
        before = t.time
        await wait_for(lambda: t.time != before, what="other client still streaming")
        assert ctl(sim, "/healthz")["status"] == "ok"
    await reconnect_works(sim)
