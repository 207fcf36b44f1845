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

The web's database is read through a read-only SQLite connection: the harness never writes it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from wheeldesk.markettime import expiry_moment

from wheeldesk_testing.e2e import form_values, login, ready
from wheeldesk_testing.fake_resend import FakeResend
from wheeldesk_testing.procs import TEST_TOKEN, Proc
from wheeldesk_testing.stack import Stack

# Cheap, liquid names (collateral ≈ $2–6k a contract) with a dollar or half-dollar strike grid;
# none is held at the start (tws-sim starts with KO shares and an AAPL put).
SYMBOLS = ("BAC", "PFE", "INTC", "CSCO")
# Scanned, not traded: volatile names passing the default fundamentals rules, the likeliest to
# reach tier A and give the saved scan a digest to email.
SCAN_ONLY = ("UBER", "PYPL", "META")
WEEK_SECONDS = 7 * 86400
# A simulated week per minute of wall time: 10 weeks of market in the 10-minute bench.
DEFAULT_SPEED = WEEK_SECONDS / 60
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}"}
ERROR_LINE = re.compile(
    r"^\S+ \S+ +(ERROR|CRITICAL)\b|Traceback \(most recent call last\)|\[(ERR|FTL)\]"
)
CENT = Decimal("0.01")


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


# --- reading the books -------------------------------------------------------------------------


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _expiry(value: Any) -> str:
    """tws-sim says 20261218, the web 2026-12-18: one spelling for comparing."""
    return str(value or "").replace("-", "")


def _strike(value: Any) -> str:
    return "" if value in (None, "", 0) else f"{float(value):g}"


def contract_key(symbol: str, sec_type: str, expiry: Any, strike: Any, right: Any) -> tuple:
    if sec_type == "STK":
        return (symbol, "STK", "", "", "")
    return (symbol, "OPT", _expiry(expiry), _strike(strike), right or "")


def describe(key: tuple) -> str:
    return " ".join(str(k) for k in key if k)


class WebDB:
    """The web's SQLite file, read-only (the web is its only writer)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql, args)]
        finally:
            con.close()

    def executions(self) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM ledger_execution ORDER BY time, id")

    def cycles(self) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM ledger_wheelcycle")

    def opening_lots(self) -> list[dict[str, Any]]:
        """Opening lots the worker took from the account at the first sync (held before the
        ledger's history: tws-sim's starting KO shares and AAPL put)."""
        return self.rows(
            "SELECT kind, symbol, quantity, price FROM ledger_adjustment WHERE from_broker = 1"
        )

    def notifications(self) -> list[dict[str, Any]]:
        return self.rows("SELECT key, kind, status, error FROM alerts_notification")

    def orders(self) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT o.client_order_id, o.status, o.symbol, o.action, o.checks, "
            "u.email FROM orders_order o LEFT JOIN auth_user u ON u.id = o.user_id"
        )


# --- the result ----------------------------------------------------------------------------------


@dataclass
class SoakResult:
    seconds: float = 0.0
    wall: float = 0.0
    speed: float = 0.0
    sim_start: datetime | None = None
    sim_end: datetime | None = None
    rss_start: dict[str, int] = field(default_factory=dict)
    rss_end: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    orders: Counter = field(default_factory=Counter)
    blocked_by: Counter = field(default_factory=Counter)
    settlements: Counter = field(default_factory=Counter)
    cycles: Counter = field(default_factory=Counter)
    scans: int = 0
    expected: Counter = field(default_factory=Counter)  # notifications decided, by kind
    sent: int = 0
    resend_posts: int = 0
    duplicates: list[str] = field(default_factory=list)
    email_problems: list[str] = field(default_factory=list)
    ledger_mismatches: list[str] = field(default_factory=list)
    executions: int = 0
    workdir: str = ""
    restarts: int = 0

    @property
    def sim_days(self) -> float:
        if self.sim_start is None or self.sim_end is None:
            return 0.0
        return (self.sim_end - self.sim_start).total_seconds() / 86400

    @property
    def error_count(self) -> int:
        return sum(len(v) for v in self.errors.values())

    def problems(self) -> list[str]:
        """Every broken invariant, one line each (empty when the soak passed)."""
        out = [f"{name}: {line}" for name, lines in self.errors.items() for line in lines[:20]]
        out += [f"duplicate email: {d}" for d in self.duplicates]
        out += [f"email: {p}" for p in self.email_problems]
        if self.sent != sum(self.expected.values()):
            out.append(f"emails sent {self.sent} != expected {sum(self.expected.values())}")
        out += [f"ledger: {m}" for m in self.ledger_mismatches]
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Bench rows (see bench/__main__.py)."""
        expected = sum(self.expected.values())
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.expected.items())) or "none"
        rows: list[dict[str, Any]] = [
            {"name": "wall time (trading + settling)", "value": self.wall, "unit": "s",
             "target": "≤ 600 s of trading", "reference": f"trading phase {self.seconds:.0f} s"},
            {"name": "market simulated", "value": self.sim_days, "unit": "days",
             "reference": f"tws-sim --speed {self.speed:.0f}"},
            {"name": "orders sent through the web (preview + confirm)",
             "value": self.orders["sent"], "unit": "orders",
             "reference": f"{self.orders['filled']} filled, {self.orders['cancelled']} cancelled, "
             f"{self.orders['blocked']} blocked by checks, "
             f"{self.orders['confirm refused']} confirms refused (market moved) and "
             f"{self.orders['re-priced']} re-priced at the bid"},
            {"name": "expiry settlements in the ledger", "value": sum(self.settlements.values()),
             "unit": "executions",
             "reference": ", ".join(f"{k} {n}" for k, n in sorted(self.settlements.items()))},
            {"name": "wheel cycles", "value": sum(self.cycles.values()), "unit": "cycles",
             "reference": ", ".join(f"{k} {n}" for k, n in sorted(self.cycles.items()))},
            {"name": "scheduled scans finished", "value": self.scans, "unit": "scans"},
            {"name": "IB Gateway restarts (nightly restart, tws-sim down)",
             "value": self.restarts, "unit": "restarts"},
        ]  # fmt: skip
        for name in sorted(self.rss_start.keys() | self.rss_end.keys()):
            start, end = self.rss_start.get(name), self.rss_end.get(name)
            rows.append(
                {
                    "name": f"RSS {name} start → end",
                    "value": (end or 0) / 1024,
                    "unit": "MiB",
                    "reference": f"start {(start or 0) / 1024:.1f} MiB",
                    "ratio": (end / start) if start and end else None,
                }
            )
        where = "; ".join(f"{k} {len(v)}" for k, v in sorted(self.errors.items()))
        rows += [
            {"name": "error log lines (all processes)", "value": self.error_count,
             "unit": "lines", "target": "0", "reference": where or "none"},
            {"name": "emails expected (decided by the web)", "value": expected,
             "unit": "emails", "reference": kinds},
            {"name": "emails sent (accepted by Resend)", "value": self.sent, "unit": "emails",
             "target": f"= expected ({expected})",
             "reference": f"{self.resend_posts} POSTs; {len(self.email_problems)} key mismatches"},
            {"name": "duplicate emails", "value": len(self.duplicates), "unit": "emails",
             "target": "0"},
            {"name": "ledger mismatches vs tws-sim", "value": len(self.ledger_mismatches),
             "unit": "items", "target": "0",
             "reference": f"{self.executions} executions compared"},
        ]  # fmt: skip
        found = [
            (f"error line ({name})", line) for name, lines in self.errors.items() for line in lines
        ]
        found += [("duplicate email", d) for d in self.duplicates]
        found += [("email", p) for p in self.email_problems]
        found += [("ledger", m) for m in self.ledger_mismatches]
        for name, what in found[:10]:
            text = what.replace("|", "/")
            rows.append({"name": f"found: {name}", "reference": text[:200]})
        return rows


# --- the trader ----------------------------------------------------------------------------------


class Trader:
    """Opens the next wheel leg per symbol through the web's order pages."""

    def __init__(self, stack: Stack, symbols: tuple[str, ...], min_days: float) -> None:
        self.stack = stack
        self.symbols = symbols
        self.min_days = min_days
        self.client = login(stack)
        self.sent: list[str] = []
        self.counts: Counter = Counter()

    def close(self) -> None:
        self.client.close()

    def state(self) -> dict[str, Any]:
        return httpx.get(f"{self.stack.control_url}/state", timeout=30).json()

    def round(self) -> None:
        """One look at the account; a new leg for every idle symbol (none while IBKR is down:
        the web shows the banner and a trader waits)."""
        if not ready(self.stack.bridge_url):
            return
        state = self.state()
        now = datetime.fromisoformat(state["sim_time"])
        working = {o["symbol"] for o in state["orders"] if o["status"] in WORKING_AT_SIM}
        shares: dict[str, float] = defaultdict(float)
        options: set[str] = set()
        for p in state["positions"]:
            if p["sec_type"] == "STK":
                shares[p["symbol"]] += p["quantity"]
            elif p["quantity"]:
                options.add(p["symbol"])
        for symbol in self.symbols:
            if symbol in working or symbol in options:
                continue
            right = "C" if shares[symbol] >= 100 else "P"
            with contextlib.suppress(httpx.HTTPError):
                self.open(symbol, right, now)

    def pick(self, symbol: str, right: str, now: datetime) -> dict[str, Any] | None:
        """The nearest expiry at least `min_days` away (by tws-sim's clock) and the listed
        strike nearest the money on the seller's side (put at or under, call at or over)."""
        chain = httpx.get(
            f"{self.stack.bridge_url}/v1/chains/{symbol}",
            params={"right": right, "dte_min": 0, "dte_max": 60, "strikes": 4},
            headers=HEADERS,
            timeout=60,
        )
        if chain.status_code != 200:
            self.counts["chain errors"] += 1
            return None
        body = chain.json()
        spot = body["underlying"].get("price") or body["underlying"].get("last")
        if not spot:
            return None
        soonest = now + timedelta(days=self.min_days)
        by_expiry: dict[date, list[dict]] = defaultdict(list)
        for q in body["options"]:
            expiry = date.fromisoformat(q["contract"]["expiry"])
            if expiry_moment(expiry) >= soonest and (q.get("bid") or 0) >= 0.05:
                by_expiry[expiry].append(q)
        for expiry in sorted(by_expiry):
            quotes = by_expiry[expiry]
            if right == "P":
                side = [q for q in quotes if q["contract"]["strike"] <= spot]
                best = max(side, key=lambda q: q["contract"]["strike"], default=None)
            else:
                side = [q for q in quotes if q["contract"]["strike"] >= spot]
                best = min(side, key=lambda q: q["contract"]["strike"], default=None)
            if best is not None:
                return best
        return None

    def open(self, symbol: str, right: str, now: datetime) -> None:
        q = self.pick(symbol, right, now)
        if q is None:
            self.counts["no contract"] += 1
            return
        page = self.client.post(
            "/orders/new/",
            data={
                "csrfmiddlewaretoken": self.client.cookies["csrftoken"],
                "symbol": symbol,
                "expiry": q["contract"]["expiry"],
                "strike": q["contract"]["strike"],
                "right": right,
                "action": "SELL",
                "quantity": 1,
                "limit_price": f"{max(0.01, q['bid']):.2f}",
            },
            follow_redirects=True,
            timeout=120,
        )
        found = re.search(r'id="client-order-id">([^<]+)<', page.text)
        if page.status_code != 200 or found is None:
            self.counts["preview failed"] += 1
            return
        coid = found.group(1)
        form = {"csrfmiddlewaretoken": self.client.cookies["csrftoken"]}
        for attempt in range(3):
            if 'id="confirm-form"' not in page.text:
                self.sent.append(coid)  # it left the preview: sent to IBKR
                return
            if attempt:
                self.counts["re-priced"] += 1
            if 'id="blocked-note"' not in page.text:
                confirm = form_values(page.text, "confirm-form")
                self.client.post(f"/orders/{coid}/confirm/", data=confirm, timeout=120)
                page = self.client.get(f"/orders/{coid}/", timeout=120)
                if 'id="confirm-form"' not in page.text:
                    continue
                self.counts["confirm refused"] += 1
            # Simulated hours passed while the page loaded and the limit no longer fits the
            # market: take the bid of the fresh what-if and preview again, as a trader would.
            bid = re.search(r'data-set-limit="([0-9.]+)">Bid', page.text)
            if bid is None or float(bid.group(1)) < 0.01:
                break
            self.client.post(
                f"/orders/{coid}/update/",
                data={**form, "quantity": 1, "limit_price": bid.group(1)},
                timeout=120,
            )
            page = self.client.get(f"/orders/{coid}/", timeout=120)
        if 'id="confirm-form"' not in page.text:
            self.sent.append(coid)
        else:
            self.counts["blocked"] += 1  # a trader reads the checks and does not send it

    def cancel_working(self) -> None:
        """What is still working at the end is cancelled through the web, as a trader would."""
        state = self.state()
        ours = set(self.sent)
        for o in state["orders"]:
            if o["status"] in WORKING_AT_SIM and o["order_ref"] in ours:
                with contextlib.suppress(httpx.HTTPError):
                    self.client.post(
                        f"/orders/{o['order_ref']}/cancel/",
                        data={"csrfmiddlewaretoken": self.client.cookies["csrftoken"]},
                        timeout=60,
                    )


WORKING_AT_SIM = {"PendingSubmit", "PreSubmitted", "Submitted"}


# --- comparing -------------------------------------------------------------------------------


def _signed(side: str, qty: Any) -> Decimal:
    q = Decimal(str(qty))
    return q if side == "BOT" else -q


def _cash(side: str, qty: Any, price: Any, mult: int) -> Decimal:
    return -_signed(side, qty) * Decimal(str(price)) * mult


def compare_ledger(
    start: dict[str, Any],
    end: dict[str, Any],
    sim_orders: list[dict[str, Any]],
    web: WebDB,
    traded: tuple[str, ...] = (),
) -> tuple[list[str], int]:
    """Mismatches between the web's ledger and tws-sim's account; and executions compared.

    `traded`: symbols whose whole history the ledger saw (no position before the run), whose
    open cycle must also be in the state the account shows."""
    out: list[str] = []
    sim_execs = {e["exec_id"]: e for e in end["executions"]}
    web_execs = {e["exec_id"]: e for e in web.executions()}
    for exec_id in sorted(sim_execs.keys() - web_execs.keys()):
        e = sim_execs[exec_id]
        out.append(f"execution {exec_id} ({e['side']} {e['shares']} {e['symbol']}) not in ledger")
    for exec_id in sorted(web_execs.keys() - sim_execs.keys()):
        out.append(f"ledger execution {exec_id} unknown to tws-sim")
    for exec_id in sorted(sim_execs.keys() & web_execs.keys()):
        s, w = sim_execs[exec_id], web_execs[exec_id]
        theirs = (s["side"], Decimal(str(s["shares"])), _money(s["price"]), _money(s["commission"]))
        ours = (w["side"], Decimal(str(w["quantity"])), _money(w["price"]), _money(w["commission"]))
        if theirs != ours:
            out.append(f"execution {exec_id}: tws-sim {theirs} vs ledger {ours}")

    # Positions: what tws-sim holds now minus what it held at the start = the ledger's net.
    held: dict[tuple, Decimal] = defaultdict(Decimal)
    for sign, snapshot in ((1, end), (-1, start)):
        for p in snapshot["positions"]:
            key = contract_key(p["symbol"], p["sec_type"], p["expiry"], p["strike"], p["right"])
            held[key] += sign * Decimal(str(p["quantity"]))
    net: dict[tuple, Decimal] = defaultdict(Decimal)
    for w in web_execs.values():
        key = contract_key(w["symbol"], w["sec_type"], w["expiry"], w["strike"], w["right"])
        net[key] += _signed(w["side"], w["quantity"])
    for key in sorted(held.keys() | net.keys()):
        if held[key] != net[key]:
            out.append(f"position {describe(key)}: tws-sim {held[key]:+} vs ledger {net[key]:+}")

    # Cash: the account's change equals the ledger's cash flows after commissions.
    flows = sum(
        (
            _cash(w["side"], w["quantity"], w["price"], w["multiplier"] or 1)
            - _money(w["commission"])
            for w in web_execs.values()
        ),
        Decimal(0),
    )
    moved = _money(end["cash"]) - _money(start["cash"])
    if abs(moved - flows) > CENT:
        out.append(f"cash: tws-sim moved {moved} vs ledger flows {flows.quantize(CENT)}")

    # Premium per symbol: the cycles' net premium equals the option cash tws-sim booked.
    # Opening lots (held before the run; IB's average cost to 4 decimals) open the cycles.
    premium: dict[str, Decimal] = defaultdict(Decimal)
    lot_shares: dict[str, Decimal] = defaultdict(Decimal)
    for lot in web.opening_lots():
        qty, price = Decimal(str(lot["quantity"])), Decimal(str(lot["price"]))
        if lot["kind"] == "option":
            premium[lot["symbol"]] += qty * price * 100
        else:
            lot_shares[lot["symbol"]] += qty
    for e in sim_execs.values():
        if e["sec_type"] == "OPT":
            premium[e["symbol"]] += _cash(e["side"], e["shares"], e["price"], 100)
    cycles = web.cycles()
    by_cycles: dict[str, Decimal] = defaultdict(Decimal)
    shares_open: dict[str, Decimal] = defaultdict(Decimal)
    for c in cycles:
        by_cycles[c["symbol"]] += Decimal(str(c["premium"]))
        if c["state"] != "closed":
            shares_open[c["symbol"]] += Decimal(str(c["shares"]))
    for symbol in sorted(premium.keys() | by_cycles.keys()):
        if abs(premium[symbol] - by_cycles[symbol]) > CENT:
            out.append(
                f"premium {symbol}: tws-sim {premium[symbol]:.2f} vs cycles {by_cycles[symbol]:.2f}"
            )
    # Shares: open cycles hold what tws-sim's executions delivered (pre-existing lots aside).
    delivered = {k[0]: v for k, v in held.items() if k[1] == "STK"}
    for symbol in sorted(delivered.keys() | shares_open.keys() | lot_shares.keys()):
        expected = delivered.get(symbol, 0) + lot_shares.get(symbol, 0)
        if expected != shares_open.get(symbol, 0):
            out.append(
                f"shares {symbol}: tws-sim {delivered.get(symbol, 0):+} (+ opening lots "
                f"{lot_shares.get(symbol, 0):+}) vs open cycles "
                f"{shares_open.get(symbol, 0):+}"
            )
    # Cycle state: what a symbol's open cycle says it holds is what the account holds.
    for symbol in traded:
        shares = delivered.get(symbol, Decimal(0)) > 0
        puts = any(k[0] == symbol and k[4] == "P" and q < 0 for k, q in held.items())
        calls = any(k[0] == symbol and k[4] == "C" and q < 0 for k, q in held.items())
        want = "covered_call" if shares and calls else "shares" if shares else None
        want = want or ("short_put" if puts else "closed")
        states = [c["state"] for c in cycles if c["symbol"] == symbol and c["state"] != "closed"]
        got = states[0] if len(states) == 1 else "closed" if not states else f"{states}"
        if got != want:
            out.append(f"cycle {symbol}: ledger {got} vs account {want}")

    # Orders: the web shows each order as the broker has it.
    web_orders = {o["client_order_id"]: o for o in web.orders()}
    status_at_web = {"Filled": "filled", "Cancelled": "cancelled", "Inactive": "rejected"}
    for o in sim_orders:
        wo = web_orders.get(o["order_ref"])
        want = status_at_web.get(o["status"])
        if wo is None or want is None:
            continue
        if wo["status"] != want:
            out.append(f"order {o['order_ref']}: tws-sim {o['status']} vs web {wo['status']}")
    at_sim = {o["order_ref"] for o in sim_orders}
    for coid, wo in sorted(web_orders.items()):
        if wo["status"] not in ("previewed", "refused") and coid not in at_sim:
            out.append(f"order {coid}: web {wo['status']} but unknown to tws-sim")
    return out, len(sim_execs)


def compare_emails(fake: FakeResend, web: WebDB, result: SoakResult) -> None:
    notes = web.notifications()
    result.expected = Counter(n["kind"] for n in notes)
    with fake.lock:
        emails = list(fake.emails)
        result.resend_posts = len(fake.posts())
    result.sent = len(emails)
    by_key = Counter(e.idempotency_key for e in emails)
    by_content = Counter((tuple(e.to), e.subject, e.text, e.html) for e in emails)
    result.duplicates = [f"key {k} × {n}" for k, n in by_key.items() if n > 1]
    result.duplicates += [f"{c[1]!r} × {n}" for c, n in by_content.items() if n > 1]
    decided = {n["key"] for n in notes}
    for n in notes:
        if n["status"] != "sent":
            result.email_problems.append(f"{n['key']} is {n['status']} {n['error']}".strip())
    for key in sorted(decided - by_key.keys()):
        result.email_problems.append(f"{key} decided but not received by Resend")
    for key in sorted(by_key.keys() - decided):
        result.email_problems.append(f"{key} received by Resend but never decided")
    # Every filled order of a user who wants fill emails has exactly its email.
    for o in web.orders():
        key = f"order-filled:{o['client_order_id']}"
        if o["status"] == "filled" and o["email"] and key not in decided:
            result.email_problems.append(f"order {o['client_order_id']} filled, no email")


# --- running -------------------------------------------------------------------------------------


def _until(predicate: Callable[[], bool], timeout: float, step: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (sqlite3.Error, httpx.HTTPError):
            pass  # the next look will do
        time.sleep(step)
    return False


def _setup(stack: Stack, symbols: tuple[str, ...], dte_max: int) -> None:
    """The traded symbols on the user's default watchlist, a saved scan that emails its new
    tier-A signals, an email for every IBKR outage the worker sees (the nightly restarts are
    shorter than the default 10 minutes), and a DTE window wide enough for the whole run.

    The screener counts DTE from the wall clock while tws-sim's expiries follow its own, which
    runs ahead by the simulated days: the default 7–45 window would reject every contract."""
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from wheeldesk_web.watchlist.models import WatchlistItem\n"
        "from wheeldesk_web.watchlist.services import default_watchlist\n"
        "from wheeldesk_web.alerts.models import AlertPreferences, SavedScan\n"
        "from wheeldesk_web.preferences.models import UserConfig\n"
        f"user = get_user_model().objects.get(username={stack.username!r})\n"
        "wl = default_watchlist(user)\n"
        f"for s in {list(symbols)!r}:\n"
        "    WatchlistItem.objects.get_or_create(watchlist=wl, symbol=s)\n"
        "SavedScan.objects.get_or_create(user=user, name='Soak wheel', "
        "defaults={'watchlist': wl, 'kinds': 'CSP,CC', 'email': True})\n"
        "AlertPreferences.objects.update_or_create(user=user, "
        "defaults={'disconnected': True, 'disconnected_minutes': 0})\n"
        "config = UserConfig.for_user(user)\n"
        f"config.dte_max = {dte_max}\n"
        "config.save()\n"
    )
    stack.manage("shell", "-c", code)


def _whole_history(start: dict[str, Any], end: dict[str, Any], symbols: tuple[str, ...]) -> tuple:
    """Symbols whose shares the ledger saw arrive: traded or settled, not held as stock at the
    start (tws-sim's KO lot predates every execution)."""
    lots = {p["symbol"] for p in start["positions"] if p["sec_type"] == "STK"}
    seen = set(symbols) | {e["symbol"] for e in end["executions"]}
    return tuple(sorted(seen - lots))


def _ledger_caught_up(stack: Stack, web: WebDB) -> bool:
    state = httpx.get(f"{stack.control_url}/state", timeout=30).json()
    sim = {e["exec_id"]: e for e in state["executions"]}
    ours = {e["exec_id"]: e for e in web.executions()}
    if sim.keys() - ours.keys():
        return False
    # Late commission reports fill in; an order's last status arrives after its fill.
    if any(_money(e["commission"]) != _money(ours[i]["commission"]) for i, e in sim.items()):
        return False
    web_orders = {o["client_order_id"]: o["status"] for o in web.orders()}
    final = {"Filled": "filled", "Cancelled": "cancelled"}
    return all(
        web_orders.get(o["order_ref"]) == final[o["status"]]
        for o in state["orders"]
        if o["status"] in final and o["order_ref"] in web_orders
    )


def _fill_emails_decided(web: WebDB) -> bool:
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
    stack = Stack.start(
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
    web = WebDB(stack.workdir / "web.sqlite3")
    trader: Trader | None = None
    try:
        result.workdir = str(stack.workdir)
        days = math.ceil(seconds * speed / 86400)
        _setup(stack, (*symbols, *scan_only), min(730, 45 + days))
        start = httpx.get(f"{stack.control_url}/state", timeout=30).json()
        result.sim_start = datetime.fromisoformat(start["sim_time"])
        result.rss_start = memory(stack.procs)
        trader = Trader(stack, symbols, min_days)
        deadline = time.monotonic() + seconds
        restart_at = time.monotonic() + min(restart_every, seconds / 2)
        while time.monotonic() < deadline:
            if restart_every and time.monotonic() >= restart_at:
                stack.control("/control/restart", {"down_seconds": restart_down})
                result.restarts += 1
                restart_at += restart_every
            trader.round()
            time.sleep(1.0)
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
        end = httpx.get(f"{stack.control_url}/state", timeout=30).json()
        result.sim_end = datetime.fromisoformat(end["sim_time"])
        sim_orders = httpx.get(f"{stack.control_url}/state/orders", timeout=30).json()
        result.ledger_mismatches, result.executions = compare_ledger(
            start, end, sim_orders, web, _whole_history(start, end, symbols)
        )
        compare_emails(fake, web, result)
        ours = set(trader.sent)
        result.orders = Counter(trader.counts)
        placed = [o for o in sim_orders if o["order_ref"] in ours]
        result.orders["sent"] = len(placed)  # confirmed and reached IBKR (tws-sim)
        result.orders["lost"] = len(ours) - len(placed)  # left the preview, never reached it
        result.orders.update(o["status"].lower() for o in placed)
        result.settlements = Counter(e["kind"] for e in web.executions() if e["kind"] != "trade")
        result.cycles = Counter(c["state_label"].split(" — ")[-1].lower() for c in web.cycles())
        result.scans = len(web.rows("SELECT id FROM signals_scanrun WHERE status = 'done'"))
    finally:
        if trader is not None:
            trader.close()
        stack.stop()
        fake.stop()
        result.errors = error_lines(stack.procs)
        result.wall = time.monotonic() - began
    return result


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
