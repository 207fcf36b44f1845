"""`python -m tws_sim --port 4002 --control-port 4080 --seed 7`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from tws_sim.engine import Config


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="tws_sim", description="TWS / IB Gateway simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4002)
    p.add_argument("--control-port", type=int, default=4080)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument("--snapshot-latency-ms", type=float, default=0.0)
    p.add_argument("--max-lines", type=int, default=100)
    p.add_argument("--pacing", type=int, default=50, help="client messages per second; 0 = off")
    p.add_argument("--tick-ms", type=float, default=250.0, help="market step / stream interval")
    a = p.parse_args(argv)
    return Config(
        port=a.port,
        control_port=a.control_port,
        host=a.host,
        seed=a.seed,
        speed=a.speed,
        snapshot_latency_ms=a.snapshot_latency_ms,
        max_lines=a.max_lines,
        pacing=a.pacing,
        tick_ms=a.tick_ms,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    from tws_sim.server import serve

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
