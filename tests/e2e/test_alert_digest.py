"""Alerts on the whole stack, read from the notifier's console outbox as a user reads them.

'Email new signals': a real scan (screener → bridge → tws-sim), a real worker pass; one digest
with only new signals, a second scan that finds nothing new sends nothing. A put sold from the
web and filled, then assigned at expiry: the fill email and the assignment email each say what
happened to the wheel cycle (premium so far, basis, next step, link), numbers computed by hand
from IB's fill (tws-sim's order book).
"""

from __future__ import annotations

import json
import re
import time
from datetime import date

import pytest
from wheeldesk_testing.e2e import login, sell_put_from_web, sim_orders, wait_until
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.web_state import WebState

pytestmark = pytest.mark.slow

USER, EMAIL = "digest", "digest@example.com"
SYMBOLS = "KO,PEP,JNJ,MSFT,AAPL"


def state(stack: Stack) -> dict:
    """Each scan's tier A/B signal keys, and how many digests the worker decided for the user."""
    return WebState(stack).signal_digests(USER)


def digests(stack: Stack) -> list[dict]:
    if not stack.outbox_dir.exists():
        return []
    metas = [json.loads(p.read_text()) for p in stack.outbox_dir.glob("*.json")]
    return [m for m in metas if m["to"] == [EMAIL] and m["template"] == "signal_digest"]


def wait_for_digests(stack: Stack, n: int, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = digests(stack)
        if len(got) >= n:
            return got
        time.sleep(0.2)
    return digests(stack)


def scan_and_pass(stack: Stack) -> None:
    stack.manage("scan", "--user", USER, "--symbols", SYMBOLS)
    stack.manage("worker", "--once", "--no-nats", "--ignore-hours")


def test_email_new_signals_one_digest_then_none(stack: Stack) -> None:
    WebState(stack).email_signals(USER, EMAIL, min_tier="B")
    scan_and_pass(stack)
    now = state(stack)
    [first_keys] = now["scans"]
    assert first_keys, "the demo market should offer tier A or B signals"
    assert now["decided"] == 1
    [first] = wait_for_digests(stack, 1)
    text = (stack.outbox_dir / f"{first['id']}.txt").read_text()
    assert "New signals" in first["subject"]
    rows = [line for line in text.splitlines() if line.lstrip().startswith(("[A]", "[B]", "[C]"))]
    assert len(rows) == len(first_keys) and not any("[C]" in r for r in rows)
    # A second scan seconds later finds the same contracts: nothing new, no email decided
    # (the worker decides before it sends, so its rows are the truth). Should the market
    # have moved a strike into the band, that one new signal gets one digest of its own.
    scan_and_pass(stack)
    now = state(stack)
    new = set(now["scans"][1]) - set(first_keys)
    assert now["decided"] == 1 + (1 if new else 0)
    assert len(wait_for_digests(stack, now["decided"])) == now["decided"]


SCHEDULED = "sched", "sched@example.com"


def mails_to(stack: Stack, email: str) -> list[dict]:
    if not stack.outbox_dir.exists():
        return []
    metas = [json.loads(p.read_text()) for p in stack.outbox_dir.glob("*.json")]
    return [m for m in metas if m["to"] == [email] and m["template"] == "signal_digest"]


def test_the_worker_scans_on_schedule_and_emails_on_the_brokers_clock(stack: Stack) -> None:
    """Whatever this machine's date (a Saturday when this was written: on the wall clock the
    worker would do nothing), tws-sim's market is a Wednesday morning, open. A user whose
    Settings schedule a scan at the market's current minute gets it, and its digest, from one
    ordinary worker pass: no --ignore-hours, no --now."""
    from wheeldesk.clients import SyncBridgeClient
    from wheeldesk.markettime import NY
    from wheeldesk_testing.procs import TEST_TOKEN

    with SyncBridgeClient(stack.bridge_url, TEST_TOKEN) as bridge:
        status = bridge.status()
    assert status.server_time is not None and status.market_open, status
    at = status.server_time.astimezone(NY)
    user, email = SCHEDULED
    WebState(stack).schedule_scans(user, email, ["KO", "PEP", "JNJ"], f"{at:%H:%M}")
    out = stack.manage("worker", "--once", "--no-nats")
    log = out.stdout + out.stderr
    assert f"scheduled scan {user}" in log, log[-2000:]
    assert f"worker pass at {at:%Y-%m-%d}" in log, log[-2000:]  # IB's date, not this machine's
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not mails_to(stack, email):
        time.sleep(0.2)
    [mail] = mails_to(stack, email)
    assert "New signals" in mail["subject"]


def outbox_mail(stack: Stack, key: str) -> tuple[dict, str]:
    """The console outbox's email sent under this idempotency key: (meta, text body)."""

    def found() -> tuple[dict, str] | None:
        if not stack.outbox_dir.exists():
            return None
        for p in stack.outbox_dir.glob("*.json"):
            meta = json.loads(p.read_text())
            if meta.get("idempotency_key") == key:
                return meta, (stack.outbox_dir / f"{meta['id']}.txt").read_text()
        return None

    return wait_until(found, 60, f"the email {key} in the outbox")


def broker_date(stack: Stack) -> date:
    """IB's date as the bridge reports it (what the web's worker runs on)."""
    from wheeldesk.clients import SyncBridgeClient
    from wheeldesk.markettime import NY
    from wheeldesk_testing.procs import TEST_TOKEN

    with SyncBridgeClient(stack.bridge_url, TEST_TOKEN) as bridge:
        server_time = bridge.status().server_time
    assert server_time is not None
    return server_time.astimezone(NY).date()


def worker_pass(stack: Stack) -> None:
    stack.manage("worker", "--once", "--no-nats", "--ignore-hours")


@pytest.fixture(scope="module")
def own_stack():  # type: ignore[no-untyped-def]
    """A stack of its own: this test moves tws-sim's clock to an expiry."""
    started = Stack.start()
    yield started
    started.stop()


def test_fill_and_assignment_emails_say_what_happened_to_the_cycle(own_stack: Stack) -> None:
    stack = own_stack
    symbol = "VZ"
    client = login(stack)
    stack.control("/control/fill-mode", {"mode": "immediate"})
    try:
        coid = sell_put_from_web(client, stack, symbol)
        [order] = wait_until(
            lambda: [o for o in sim_orders(stack, coid) if o["status"] == "Filled"], 60, "the fill"
        )
    finally:
        stack.control("/control/fill-mode", {"mode": "cross"})
        client.close()
    # IB's fill: 1 put sold at its average fill price; premium = price x 100 x 1
    price = float(order["avg_fill_price"])
    premium = round(price * 100, 2)
    worker_pass(stack)  # syncs the fill into the order and the ledger, then emails it
    meta, text = outbox_mail(stack, f"order-filled:{coid}")
    assert meta["subject"].startswith(f"Filled: SELL 1 {symbol} "), meta["subject"]
    assert f"Premium received: ${premium:,.2f}" in text, text
    assert f"{symbol} wheel cycle: Short put open" in text, text
    assert f"Premium so far: ${premium:,.2f}" in text, text  # the cycle's first premium
    assert "Cost basis" not in text  # no shares yet
    assert "Next: let it run; roll or close if it goes in the money near expiry" in text
    web = WebState(stack)
    [cycle_key] = [c["key"] for c in web.cycles() if c["symbol"] == symbol]
    assert re.search(rf"https?://\S+/ledger/cycles/{re.escape(cycle_key)}/", text), text
    assert f"/orders/{coid}/" in text

    # The put ends in the money at expiry: IB assigns it, 100 shares bought at the strike.
    placed = web.order(coid)
    assert placed is not None
    strike_text, expiry_text = placed["strike"], placed["expiry"]
    strike, expiry = float(strike_text), date.fromisoformat(str(expiry_text)[:10])
    today = date.fromisoformat(stack.control("/state")["sim_time"][:10])
    stack.control("/control/price", {"symbol": symbol, "price": round(strike * 0.8, 2)})
    stack.control("/control/advance", {"days": (expiry - today).days + 1})
    wait_until(
        lambda: [
            e
            for e in stack.control("/state/executions")
            if e["symbol"] == symbol and e["sec_type"] == "STK"
        ],
        60,
        "the assignment's delivery at tws-sim",
    )
    # The bridge reads IB's clock every 30 s: the worker's next sync is due once its broker
    # clock (from the bridge) has moved past the expiry, as it would the morning after.
    wait_until(lambda: broker_date(stack) > expiry, 60, "the bridge's clock past the expiry")
    worker_pass(stack)  # backfills the assignment into the ledger, then emails it
    [exec_id] = [
        e["exec_id"]
        for e in web.executions()
        if (e["symbol"], e["kind"], e["sec_type"]) == (symbol, "assignment", "OPT")
    ]
    user_id = web.user_id(stack.username)
    meta, text = outbox_mail(stack, f"cycle-event:{user_id}:{exec_id}")
    # hand: shares 1 x 100 at the strike; premium so far unchanged; basis = strike - price
    shown = f"{strike:g}"
    assert meta["subject"] == (
        f"Assigned: {symbol} {expiry} {shown}P — 100 shares bought at ${strike:,.2f}"
    ), meta["subject"]
    assert f"100 {symbol} shares bought at ${strike:,.2f} (${strike * 100:,.2f})" in text
    assert f"{symbol} wheel cycle: Holding shares" in text, text
    assert f"Premium so far: ${premium:,.2f}" in text, text
    assert f"Cost basis: ${strike - price:,.2f} a share" in text, text
    assert "Next: shares assigned — sell a covered call?" in text, text
    assert re.search(rf"https?://\S+/ledger/cycles/{re.escape(cycle_key)}/", text), text
