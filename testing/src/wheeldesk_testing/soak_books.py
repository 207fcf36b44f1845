"""The soak's books: what it found (`SoakResult`) and the comparisons that find it.

The web's ledger, orders and emails (read through the web's own code, `web_state`) against
tws-sim's account and executions and the fake Resend's inbox (see `wheeldesk_testing.soak`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from wheeldesk_testing.fake_resend import FakeResend
from wheeldesk_testing.web_state import WebState

CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
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


def _signed(side: str, qty: Any) -> Decimal:
    q = Decimal(str(qty))
    return q if side == "BOT" else -q


def _cash(side: str, qty: Any, price: Any, mult: int) -> Decimal:
    return -_signed(side, qty) * Decimal(str(price)) * mult


def compare_ledger(
    start: dict[str, Any],
    end: dict[str, Any],
    sim_orders: list[dict[str, Any]],
    web: WebState,
    traded: tuple[str, ...] = (),
) -> tuple[list[str], int]:
    """Mismatches between the web's ledger and tws-sim's account; and executions compared.

    `traded`: symbols whose whole history the ledger saw (no position before the run), whose
    open cycle must also be in the state the account shows."""
    sim_execs = {e["exec_id"]: e for e in end["executions"]}
    web_execs = {e["exec_id"]: e for e in web.executions()}
    out = _compare_executions(sim_execs, web_execs)
    held, positions = _compare_positions(start, end, web_execs)
    out += positions
    out += _compare_cash(start, end, web_execs)
    out += _compare_cycles(web.opening_lots(), web.cycles(), sim_execs, held, traded)
    out += _compare_orders(sim_orders, {o["client_order_id"]: o for o in web.orders()})
    return out, len(sim_execs)


def _compare_executions(
    sim_execs: dict[str, dict[str, Any]], web_execs: dict[str, dict[str, Any]]
) -> list[str]:
    """Every tws-sim execution stored once, with the same side, quantity, price, commission."""
    out: list[str] = []
    for exec_id in sorted(sim_execs.keys() - web_execs.keys()):
        e = sim_execs[exec_id]
        out.append(f"execution {exec_id} ({e['side']} {e['shares']} {e['symbol']}) not in ledger")
    for exec_id in sorted(web_execs.keys() - sim_execs.keys()):
        out.append(f"ledger execution {exec_id} unknown to tws-sim")
    for exec_id in sorted(sim_execs.keys() & web_execs.keys()):
        s, w = sim_execs[exec_id], web_execs[exec_id]
        theirs = (s["side"], Decimal(str(s["shares"])), money(s["price"]), money(s["commission"]))
        ours = (w["side"], Decimal(str(w["quantity"])), money(w["price"]), money(w["commission"]))
        if theirs != ours:
            out.append(f"execution {exec_id}: tws-sim {theirs} vs ledger {ours}")
    return out


def _compare_positions(
    start: dict[str, Any], end: dict[str, Any], web_execs: dict[str, dict[str, Any]]
) -> tuple[dict[tuple, Decimal], list[str]]:
    """What tws-sim holds now minus what it held at the start = the ledger's net, per contract.

    Also returns that change (`held`), which the cycle checks compare with."""
    out: list[str] = []
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
    return held, out


def _compare_cash(
    start: dict[str, Any], end: dict[str, Any], web_execs: dict[str, dict[str, Any]]
) -> list[str]:
    """The account's cash change equals the ledger's cash flows after commissions."""
    flows = sum(
        (
            _cash(w["side"], w["quantity"], w["price"], w["multiplier"] or 1)
            - money(w["commission"])
            for w in web_execs.values()
        ),
        Decimal(0),
    )
    moved = money(end["cash"]) - money(start["cash"])
    if abs(moved - flows) > CENT:
        return [f"cash: tws-sim moved {moved} vs ledger flows {flows.quantize(CENT)}"]
    return []


def _compare_cycles(
    lots: list[dict[str, Any]],
    cycles: list[dict[str, Any]],
    sim_execs: dict[str, dict[str, Any]],
    held: dict[tuple, Decimal],
    traded: tuple[str, ...],
) -> list[str]:
    """Premium per symbol, shares held and each traded symbol's open cycle state.

    Opening lots (held before the run; IB's average cost to 4 decimals) open the cycles."""
    out: list[str] = []
    premium: dict[str, Decimal] = defaultdict(Decimal)
    lot_shares: dict[str, Decimal] = defaultdict(Decimal)
    for lot in lots:
        qty, price = Decimal(str(lot["quantity"])), Decimal(str(lot["price"]))
        if lot["kind"] == "option":
            premium[lot["symbol"]] += qty * price * 100
        else:
            lot_shares[lot["symbol"]] += qty
    for e in sim_execs.values():
        if e["sec_type"] == "OPT":
            premium[e["symbol"]] += _cash(e["side"], e["shares"], e["price"], 100)
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
    return out


def _compare_orders(
    sim_orders: list[dict[str, Any]], web_orders: dict[str, dict[str, Any]]
) -> list[str]:
    """The web shows each order as the broker has it."""
    out: list[str] = []
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
    return out


def compare_emails(fake: FakeResend, web: WebState, result: SoakResult) -> None:
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
