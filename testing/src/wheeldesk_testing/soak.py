"""A soak of the whole system on a sped-up tws-sim, and the invariants an operator checks after it.

The real processes (`Stack` with the worker, the notifier sending through a `FakeResend`) run
while tws-sim's clock moves `speed`× faster than the wall: days of market pass in minutes and
held options expire and settle on their own (assignments and call-aways included). A driver
plays the trader through the web's own pages — `POST /orders/new/` (preview: what-if and
pre-trade checks), then `POST …/confirm/` — selling a near-the-money cash-secured put on each
symbol that is flat, and a covered call on each that holds shares, whenever it has no open
option and no working order: roughly one leg per symbol per simulated week. When the market
moved away while the page loaded (hours of simulated time pass per second) and the web or the
bridge refuses the limit, it re-prices at the fresh what-if's bid, as a trader would. Every
`restart_every` seconds IB Gateway's nightly restart takes tws-sim down for a few seconds.
Meanwhile the worker scans the watchlist on a short schedule, emails new tier-A signals of a
saved scan (rare on tws-sim's market: its best puts score tier B), records fills from NATS and
backfills from the bridge, emails each filled order and each IBKR outage it sees.

At the end the driver stops opening, cancels what is still working, and moves the clock past
the last held expiry (`/control/advance`) so every position settles; the worker is then
stopped so that nothing new is decided while the books are compared:
- memory: RSS of each process (its whole process group, e.g. uvicorn's workers) at the start
  and at the end;
- error lines (ERROR/CRITICAL records, tracebacks, nats-server [ERR]/[FTL]) in every log;
- emails: what the web decided to send (its `Notification` rows, one per idempotency key) against
  what reached Resend (the fake's accepted emails), the keys matched one to one, duplicates
  counted by key and by content; every filled order must have its fill email;
- the ledger against tws-sim: every tws-sim execution stored once (same side, quantity, price,
  commission), the net position per contract and the cash of the account (end − start) equal to
  the ledger's, option premium per symbol equal to the wheel cycles' premium, shares held per
  symbol equal to the open cycles' shares, each open cycle in the state the account shows
  (short put, shares, covered call) and each order's status equal to the broker's.

The web's database is read (and the soak's user set up) through the web's own code
(`wheeldesk_testing.web_state`), never through its tables. The trader lives in `soak_trader`,
the result and the comparisons in `soak_books`.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from wheeldesk.markettime import expiry_moment

from wheeldesk_testing.fake_resend import FakeResend
from wheeldesk_testing.procs import Proc
from wheeldesk_testing.soak_books import SoakResult, compare_emails, compare_ledger, money
from wheeldesk_testing.soak_trader import Trader
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.web_state import WebState, WebStateError

# Cheap, liquid names (collateral ≈ $2–6k a contract) with a dollar or half-dollar strike grid;
# none is held at the start (tws-sim starts with KO shares and an AAPL put).
SYMBOLS = ("BAC", "PFE", "INTC", "CSCO")
# Scanned, not traded: volatile names passing the default fundamentals rules, the likeliest to
# reach tier A and give the saved scan a digest to email.
SCAN_ONLY = ("UBER", "PYPL", "META")
WEEK_SECONDS = 7 * 86400
# A simulated week per minute of wall time: 10 weeks of market in the 10-minute bench.
DEFAULT_SPEED = WEEK_SECONDS / 60
ERROR_LINE = re.compile(
    r"^\S+ \S+ +(ERROR|CRITICAL)\b|Traceback \(most recent call last\)|\[(ERR|FTL)\]"
)


# --- measuring processes ---------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident memory of a process and everything in its process group (uvicorn's workers).

    `Proc` starts each child in a session of its own, so its group id is its pid."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pid:  # pgrp is the 5th field; 3rd after the ")"
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        if match:
            total += int(match.group(1))
    return total


def memory(procs: list[Proc]) -> dict[str, int]:
    return {p.name: rss_kib(p.proc.pid) for p in procs if p.proc is not None and p.running}


def error_lines(procs: list[Proc]) -> dict[str, list[str]]:
    """Every ERROR/CRITICAL record, traceback and nats-server error in each process's log."""
    found: dict[str, list[str]] = {}
    for p in procs:
        lines = [line for line in p.log_text().splitlines() if ERROR_LINE.search(line)]
        if lines:
            found[p.name] = lines
    return found


# --- running -------------------------------------------------------------------------------------


def _until(predicate: Callable[[], bool], timeout: float, step: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (WebStateError, httpx.HTTPError):
            pass  # the next look will do
        time.sleep(step)
    return False


def _whole_history(start: dict[str, Any], end: dict[str, Any], symbols: tuple[str, ...]) -> tuple:
    """Symbols whose shares the ledger saw arrive: traded or settled, not held as stock at the
    start (tws-sim's KO lot predates every execution)."""
    lots = {p["symbol"] for p in start["positions"] if p["sec_type"] == "STK"}
    seen = set(symbols) | {e["symbol"] for e in end["executions"]}
    return tuple(sorted(seen - lots))


def _ledger_caught_up(stack: Stack, web: WebState) -> bool:
    state = httpx.get(f"{stack.control_url}/state", timeout=30).json()
    sim = {e["exec_id"]: e for e in state["executions"]}
    ours = {e["exec_id"]: e for e in web.executions()}
    if sim.keys() - ours.keys():
        return False
    # Late commission reports fill in; an order's last status arrives after its fill.
    if any(money(e["commission"]) != money(ours[i]["commission"]) for i, e in sim.items()):
        return False
    web_orders = {o["client_order_id"]: o["status"] for o in web.orders()}
    final = {"Filled": "filled", "Cancelled": "cancelled"}
    return all(
        web_orders.get(o["order_ref"]) == final[o["status"]]
        for o in state["orders"]
        if o["status"] in final and o["order_ref"] in web_orders
    )


def _fill_emails_decided(web: WebState) -> bool:
    keys = {n["key"] for n in web.notifications()}
    return all(
        f"order-filled:{o['client_order_id']}" in keys
        for o in web.orders()
        if o["status"] == "filled" and o["email"]
    )


def run(
    seconds: float,
    *,
    speed: float = DEFAULT_SPEED,
    symbols: tuple[str, ...] = SYMBOLS,
    scan_every: str = "20s",
    sync_every: str = "10s",
    scan_only: tuple[str, ...] = SCAN_ONLY,
    lead_seconds: float = 20.0,
    restart_every: float = 150.0,
    restart_down: float = 10.0,
    settle_timeout: float = 180.0,
) -> SoakResult:
    """The soak: `seconds` of trading on a clock `speed`× the wall, then the books compared.

    A leg is opened on an expiry at least two simulated days and `lead_seconds` of wall time
    away, so that the preview and the fill happen before it expires on a loaded machine.
    Every `restart_every` seconds of trading (the first halfway through a shorter run), IB
    Gateway's nightly restart: tws-sim refuses connections for `restart_down` seconds."""
    min_days = max(2.0, lead_seconds * speed / 86400)
    result = SoakResult(seconds=seconds, speed=speed)
    began = time.monotonic()
    fake = FakeResend().start()
    stack = _start(fake, speed, scan_every, sync_every)
    web = WebState(stack)
    trader: Trader | None = None
    try:
        result.workdir = str(stack.workdir)
        days = math.ceil(seconds * speed / 86400)
        # The screener counts DTE from the wall clock while tws-sim's expiries follow its own,
        # which runs ahead by the simulated days: the default 7–45 window would reject them all.
        web.soak_setup(stack.username, [*symbols, *scan_only], min(730, 45 + days))
        start = httpx.get(f"{stack.control_url}/state", timeout=30).json()
        result.sim_start = datetime.fromisoformat(start["sim_time"])
        result.rss_start = memory(stack.procs)
        trader = Trader(stack, symbols, min_days)
        _trade(stack, trader, seconds, restart_every, restart_down, result)
        _settle(stack, trader, web, fake, settle_timeout, result)
        end = httpx.get(f"{stack.control_url}/state", timeout=30).json()
        result.sim_end = datetime.fromisoformat(end["sim_time"])
        sim_orders = httpx.get(f"{stack.control_url}/state/orders", timeout=30).json()
        result.ledger_mismatches, result.executions = compare_ledger(
            start, end, sim_orders, web, _whole_history(start, end, symbols)
        )
        compare_emails(fake, web, result)
        _count(trader, sim_orders, web, result)
    finally:
        if trader is not None:
            trader.close()
        stack.stop()
        fake.stop()
        result.errors = error_lines(stack.procs)
        result.wall = time.monotonic() - began
    return result


def _start(fake: FakeResend, speed: float, scan_every: str, sync_every: str) -> Stack:
    """The whole system with the worker on a short schedule and the notifier sending to `fake`."""
    return Stack.start(
        worker=True,
        tws_args=["--speed", f"{speed:g}"],
        worker_args=[
            "--ignore-hours",  # the market hours are tws-sim's, not the wall clock's
            "--scan-every",
            scan_every,
            "--sync-every",
            sync_every,
            "--tick",
            "2",
        ],
        notifier_env={
            "EMAIL_BACKEND": "resend",
            "RESEND_API_KEY": "re_test_soak_0123456789",
            "RESEND_API_URL": fake.url,
            "EMAIL_BACKOFF_BASE": "0.2",
            "EMAIL_BACKOFF_MAX": "2",
        },
    )


def _trade(
    stack: Stack,
    trader: Trader,
    seconds: float,
    restart_every: float,
    restart_down: float,
    result: SoakResult,
) -> None:
    """The trading phase: a round of the trader a second, IB Gateway's restarts between."""
    deadline = time.monotonic() + seconds
    restart_at = time.monotonic() + min(restart_every, seconds / 2)
    while time.monotonic() < deadline:
        if restart_every and time.monotonic() >= restart_at:
            stack.control("/control/restart", {"down_seconds": restart_down})
            result.restarts += 1
            restart_at += restart_every
        trader.round()
        time.sleep(1.0)


def _settle(
    stack: Stack,
    trader: Trader,
    web: WebState,
    fake: FakeResend,
    settle_timeout: float,
    result: SoakResult,
) -> None:
    """Cancel what works, settle what is held, wait for the ledger and the emails, stop the
    worker so nothing new is decided while the books are compared."""
    trader.cancel_working()
    # Settle what is still open: move the clock past the last held expiry.
    state = trader.state()
    now = datetime.fromisoformat(state["sim_time"])
    expiries = [
        expiry_moment(datetime.strptime(p["expiry"], "%Y%m%d").date())
        for p in state["positions"]
        if p["sec_type"] == "OPT"
    ]
    if expiries:
        ahead = (max(expiries) - now).total_seconds() + 3600
        stack.control("/control/advance", {"seconds": max(ahead, 60)})
    _until(lambda: _ledger_caught_up(stack, web), settle_timeout)
    _until(lambda: _fill_emails_decided(web), settle_timeout)
    result.rss_end = memory(stack.procs)
    # Nothing new is decided while the books are compared; what was decided is delivered.
    assert stack.worker is not None
    stack.worker.stop(timeout=120)  # lets a long sync pass end; its emails are flushed
    _until(
        lambda: (
            {n["key"] for n in web.notifications() if n["status"] == "sent"}
            <= {e.idempotency_key for e in list(fake.emails)}
        ),
        settle_timeout,
    )


def _count(
    trader: Trader, sim_orders: list[dict[str, Any]], web: WebState, result: SoakResult
) -> None:
    """Orders, settlements, cycles and scans, for the report."""
    ours = set(trader.sent)
    result.orders = Counter(trader.counts)
    placed = [o for o in sim_orders if o["order_ref"] in ours]
    result.orders["sent"] = len(placed)  # confirmed and reached IBKR (tws-sim)
    result.orders["lost"] = len(ours) - len(placed)  # left the preview, never reached it
    result.orders.update(o["status"].lower() for o in placed)
    result.settlements = Counter(e["kind"] for e in web.executions() if e["kind"] != "trade")
    result.cycles = Counter(c["state_label"].split(" — ")[-1].lower() for c in web.cycles())
    result.scans = web.scans_done()


def from_env(default_seconds: float) -> dict[str, float]:
    """`SOAK_SECONDS` (trading phase, wall) and `SOAK_SPEED` (simulated seconds per second)."""
    return {
        "seconds": float(os.environ.get("SOAK_SECONDS", default_seconds)),
        "speed": float(os.environ.get("SOAK_SPEED", DEFAULT_SPEED)),
    }


def dump(result: SoakResult) -> str:
    """A JSON summary for logs and assertion messages."""
    return json.dumps(
        {
            "sim_days": round(result.sim_days, 1),
            "orders": dict(result.orders),
            "settlements": dict(result.settlements),
            "cycles": dict(result.cycles),
            "expected": dict(result.expected),
            "sent": result.sent,
            "problems": result.problems()[:50],
            "logs": result.workdir,
            "sim_end": result.sim_end,
        },
        indent=1,
        default=str,
    )
