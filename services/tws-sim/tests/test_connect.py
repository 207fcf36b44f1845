"""Connecting as ib_insync connects to IB Gateway: handshake, sync, account, positions."""

from __future__ import annotations

import asyncio
import time

import pytest
from ib_insync import IB
from twssim_helpers import ErrorLog, connect, ctl, next_client_id, wait_for


async def test_connect_syncs_account_positions_and_info_messages(tws_sim_factory) -> None:
    sim = tws_sim_factory()
    ib = IB()
    errors = ErrorLog(ib)
    t0 = time.perf_counter()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=next_client_id(), timeout=10)
    assert time.perf_counter() - t0 < 10
    try:
        assert ib.isConnected()
        assert ib.client.serverVersion() == 176
        assert ib.managedAccounts() == ["DU7654321"]
        assert ib.client.getReqId() >= 1
        await wait_for(lambda: {2104, 2106, 2158} <= set(errors.codes()), what="farm messages")

        values = {(v.tag, v.currency): v.value for v in ib.accountValues()}
        assert float(values[("TotalCashValue", "USD")]) == 250_000.0
        netliq = float(values[("NetLiquidation", "USD")])
        assert 250_000 < netliq < 270_000
        assert values[("AccountCode", "")] == "DU7654321"
        for tag in ("BuyingPower", "ExcessLiquidity", "MaintMarginReq", "AvailableFunds"):
            assert float(values[(tag, "USD")]) > 0, tag

        positions = {p.contract.symbol + p.contract.secType: p for p in ib.positions()}
        ko = positions["KOSTK"]
        assert ko.position == 200 and ko.account == "DU7654321"
        state = ctl(sim, "/state")
        ko_price = next(p for p in state["positions"] if p["symbol"] == "KO")["market_price"]
        assert 0.9 * ko_price < ko.avgCost < ko_price
        put = positions["AAPLOPT"]
        assert put.position == -1 and put.contract.right == "P"
        assert put.contract.multiplier == "100"
        aapl = ctl(sim, "/market")["symbols"]["AAPL"]["price"]
        assert 0.9 * aapl < put.contract.strike < aapl

        portfolio = {p.contract.symbol: p for p in ib.portfolio()}
        assert portfolio["KO"].marketValue == pytest.approx(200 * portfolio["KO"].marketPrice)
        assert portfolio["AAPL"].marketValue < 0

        # multi-account updates were synced too
        assert any(v.tag == "NetLiquidation" for v in ib.accountValues("DU7654321"))
        assert ib.openTrades() == []
        assert ctl(sim, "/state")["connections"] == 1
    finally:
        ib.disconnect()


async def test_readonly_connect(tws_sim) -> None:
    ib, _ = await connect(tws_sim, readonly=True)
    try:
        assert ib.isConnected()
        assert any(p.contract.symbol == "KO" for p in ib.positions())
    finally:
        ib.disconnect()


async def test_client_id_in_use_gets_326(tws_sim) -> None:
    cid = next_client_id()
    first, _ = await connect(tws_sim, client_id=cid)
    second = IB()
    errors = ErrorLog(second)
    try:
        with pytest.raises((asyncio.TimeoutError, ConnectionError, OSError)):
            await second.connectAsync("127.0.0.1", tws_sim.port, clientId=cid, timeout=3)
        assert 326 in errors.codes()
        assert first.isConnected()
        assert (await first.reqCurrentTimeAsync()) is not None
    finally:
        second.disconnect()
        first.disconnect()


async def test_many_clients_at_once(tws_sim) -> None:
    results = await asyncio.gather(*(connect(tws_sim) for _ in range(6)))
    try:
        times = await asyncio.gather(*(ib.reqCurrentTimeAsync() for ib, _ in results))
        assert len(times) == 6
        assert all(ib.isConnected() for ib, _ in results)
    finally:
        for ib, _ in results:
            ib.disconnect()


async def test_current_time_and_account_summary(tws_sim) -> None:
    ib, _ = await connect(tws_sim)
    try:
        now = await ib.reqCurrentTimeAsync()
        sim_time = ctl(tws_sim, "/state")["sim_time"]
        assert (
            abs(
                now.timestamp()
                - __import__("datetime").datetime.fromisoformat(sim_time).timestamp()
            )
            < 60
        )
        summary = await ib.accountSummaryAsync("DU7654321")
        tags = {s.tag: s for s in summary}
        assert tags["NetLiquidation"].currency == "USD"
        assert float(tags["TotalCashValue"].value) > 0
        assert "BuyingPower" in tags and "MaintMarginReq" in tags
    finally:
        ib.disconnect()


async def test_pnl(tws_sim) -> None:
    ib, _ = await connect(tws_sim)
    try:
        pnl = ib.reqPnL("DU7654321")
        await wait_for(
            lambda: (
                pnl.unrealizedPnL == pnl.unrealizedPnL
                and pnl.dailyPnL is not None
                and pnl.unrealizedPnL != 0
            ),
            what="PnL",
        )
        ib.cancelPnL("DU7654321")
    finally:
        ib.disconnect()


async def test_old_client_versions_are_refused(tws_sim) -> None:
    import struct

    reader, writer = await asyncio.open_connection("127.0.0.1", tws_sim.port)
    body = b"v100..150"
    writer.write(b"API\0" + struct.pack(">I", len(body)) + body)
    await writer.drain()
    assert await asyncio.wait_for(reader.read(100), 10) == b""
    writer.close()


async def test_starting_cash_is_configurable(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=["--cash", "100000"])
    ib, _ = await connect(sim)
    try:
        values = {(v.tag, v.currency): v.value for v in ib.accountValues()}
        assert float(values[("TotalCashValue", "USD")]) == 100_000.0
        assert ctl(sim, "/state")["cash"] == 100_000.0
    finally:
        ib.disconnect()
