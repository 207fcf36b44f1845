"""The API listener and the tick loop that moves the market and streams it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from tws_sim.engine import Engine
from tws_sim.session import Session
from tws_sim.settings import TwsSimSettings

log = logging.getLogger("tws_sim")


class Listener:
    """The TWS API socket; stop/start lets the control API simulate the nightly restart."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.server: asyncio.AbstractServer | None = None

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.engine.faults.accepting:
            writer.close()
            return
        session = Session(self.engine, reader, writer)
        self.engine.sessions.add(session)
        await session.run()

    async def start(self) -> None:
        cfg = self.engine.config
        self.server = await asyncio.start_server(
            self._on_client, cfg.host, cfg.port, reuse_address=True
        )

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


async def tick_loop(engine: Engine) -> None:
    """Step prices, stream changed quotes, fill crossing orders, settle expiries."""
    last_account = time.monotonic()
    while True:
        await asyncio.sleep(max(engine.config.tick_ms, 0.0) / 1000.0)
        try:
            engine.market.step()
            if engine.market.farm_up and not engine.faults.connectivity_lost:
                for s in engine.ready_sessions():
                    s.stream()
            engine.check_working()
            t = engine.next_expiry_held()
            if t is not None and t <= 0:
                engine.settle_expired()
            now = time.monotonic()
            if now - last_account > 3.0:
                last_account = now
                engine.publish_account()
        except Exception:
            log.exception("tick loop step failed")


async def serve(config: TwsSimSettings) -> None:
    from tws_sim.control import ControlServer

    engine = Engine(config)
    listener = Listener(engine)
    await listener.start()
    control = ControlServer(engine, listener)
    await control.start()
    log.info(
        "tws-sim listening on %s:%d (control %d), seed %d",
        config.host,
        config.port,
        config.control_port,
        config.seed,
    )
    engine.market.clock.begin()
    engine.market.last_step = engine.market.now()
    task = asyncio.create_task(tick_loop(engine))
    try:
        await asyncio.Event().wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
