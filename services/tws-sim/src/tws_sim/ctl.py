"""CLI for the control API: `python -m tws_sim.ctl --control-url URL <command> [args]`."""

from __future__ import annotations

import argparse
import json
import sys

import httpx

COMMANDS = {
    "state": ("GET", "/state"),
    "orders": ("GET", "/state/orders"),
    "market": ("GET", "/market"),
    "requests": ("GET", "/state/requests"),
    "health": ("GET", "/healthz"),
    "drop": ("POST", "/control/drop"),
    "restart": ("POST", "/control/restart"),
    "connectivity": ("POST", "/control/connectivity"),
    "farm": ("POST", "/control/farm"),
    "reject-next-order": ("POST", "/control/reject-next-order"),
    "latency": ("POST", "/control/latency"),
    "subscription": ("POST", "/control/subscription"),
    "wsh": ("POST", "/control/wsh"),
    "entitlements": ("POST", "/control/entitlements"),
    "gateway": ("POST", "/control/gateway"),
    "latency-model": ("POST", "/control/latency-model"),
    "price": ("POST", "/control/price"),
    "advance": ("POST", "/control/advance"),
    "fill-mode": ("POST", "/control/fill-mode"),
    "tick-rate": ("POST", "/control/tick-rate"),
    "reset-counters": ("POST", "/control/reset-counters"),
}


def build_body(cmd: str, args: list[str]) -> dict:
    """Positional shorthands (`restart 5`, `price AAPL 123.4`) or key=value pairs."""
    if any("=" in a for a in args):
        out: dict = {}
        for a in args:
            k, _, v = a.partition("=")
            try:
                out[k] = json.loads(v)
            except json.JSONDecodeError:
                out[k] = v
        return out
    if not args:
        return {}
    simple = {
        "restart": lambda a: {"down_seconds": float(a[0])},
        "connectivity": lambda a: {"state": a[0]},
        "farm": lambda a: {"state": a[0]},
        "reject-next-order": lambda a: {
            "code": int(a[0]),
            **({"message": " ".join(a[1:])} if a[1:] else {}),
        },
        "latency": lambda a: {"ms": float(a[0])},
        "subscription": lambda a: {"live": a[0].lower() in ("1", "true", "live", "yes")},
        "wsh": lambda a: {"subscribed": a[0].lower() in ("1", "true", "on", "yes")},
        "price": lambda a: {"symbol": a[0], "price": float(a[1])},
        "advance": lambda a: {"days": float(a[0])},
        "fill-mode": lambda a: {"mode": a[0]},
        "latency-model": lambda a: {"mode": a[0]},
        "tick-rate": lambda a: {"ms": float(a[0])},
    }
    return simple[cmd](args)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tws_sim.ctl", description=__doc__)
    p.add_argument("--control-url", default="http://127.0.0.1:4080")
    p.add_argument("command", choices=sorted(COMMANDS))
    p.add_argument("args", nargs="*")
    a = p.parse_args(argv)
    method, path = COMMANDS[a.command]
    try:
        body = build_body(a.command, a.args)
    except (KeyError, IndexError, ValueError):
        p.error(f"bad arguments for {a.command}")
    try:
        r = httpx.request(
            method,
            a.control_url.rstrip("/") + path,
            json=body if method == "POST" else None,
            timeout=10,
        )
    except httpx.HTTPError as exc:
        print(f"tws-sim control API unreachable: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(r.json(), indent=2))
    return 0 if r.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
