"""`python -m tws_sim --port 4002 --control-port 4080 --seed 7`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import datetime

from wheeldesk.settings import load_settings

from tws_sim.account import ACCOUNT_ID
from tws_sim.engine import Config
from tws_sim.market import parse_start
from tws_sim.settings import TwsSimSettings


def parse_args(argv: list[str] | None = None) -> Config:
    env = load_settings(TwsSimSettings)
    p = argparse.ArgumentParser(prog="tws_sim", description="TWS / IB Gateway simulator")
    p.add_argument("--host", default=env.tws_sim_host)
    p.add_argument("--port", type=int, default=env.tws_sim_port)
    p.add_argument("--control-port", type=int, default=env.tws_sim_control_port)
    p.add_argument("--seed", type=int, default=env.tws_sim_seed)
    p.add_argument(
        "--speed", type=float, default=env.tws_sim_speed, help="simulated seconds per real second"
    )
    p.add_argument("--snapshot-latency-ms", type=float, default=0.0)
    p.add_argument("--max-lines", type=int, default=100)
    p.add_argument("--pacing", type=int, default=50, help="client messages per second; 0 = off")
    p.add_argument("--tick-ms", type=float, default=250.0, help="market step / stream interval")
    p.add_argument("--cash", type=float, default=250_000.0, help="starting cash (USD)")
    p.add_argument(
        "--account",
        default=ACCOUNT_ID,
        help="the account id the login manages (DU… paper; U… looks live to the bridge)",
    )
    p.add_argument(
        "--extra-symbols",
        type=int,
        default=0,
        help="add N synthetic stocks SIM001.. to the universe (benchmarks streaming many symbols)",
    )
    p.add_argument(
        "--start",
        type=_start,
        default=env.tws_sim_start,
        help=(
            "simulated start moment, ISO 8601, or 'demo' (now on a trading day, else the most"
            " recent trading day at 10:30 ET); default: the wall clock"
        ),
    )
    ent = p.add_argument_group("entitlements (all granted by default)")
    ent.add_argument(
        "--no-live-data", action="store_true", help="live requests get 354; delayed data only"
    )
    ent.add_argument(
        "--no-fundamentals", action="store_true", help="generic tick 258 gets error 10358"
    )
    ent.add_argument("--no-greeks", action="store_true", help="no option model computations")
    ent.add_argument("--no-wsh", action="store_true", help="Wall Street Horizon gets 10276")
    p.add_argument(
        "--latency",
        choices=("off", "realistic"),
        default="off",
        help="per-request delays drawn (seeded) around IB's: option snapshots ~1-2 s, contract"
        " details a few hundred ms, historical data soft-throttled",
    )
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
        cash=a.cash,
        extra_symbols=max(0, a.extra_symbols),
        start=a.start,
        live_data=not a.no_live_data,
        fundamentals=not a.no_fundamentals,
        greeks=not a.no_greeks,
        wsh=not a.no_wsh,
        latency=a.latency,
        account=a.account,
    )


def _start(text: str) -> datetime:
    try:
        return parse_start(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        # under `make run` (LOG_FORMAT=console) the runner stamps the time: one clock a line
        format=(
            "%(levelname)s %(name)s %(message)s"
            if os.environ.get("LOG_FORMAT") == "console"
            else "%(asctime)s %(levelname)s %(name)s %(message)s"
        ),
    )
    from tws_sim.server import serve

    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # e.g. the port is taken: one line, not a traceback
        print(f"tws-sim cannot listen: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
