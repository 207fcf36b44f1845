"""Wheeldesk in the real market's hours, entitlements and latency, on the full stack (issue 18).

One stack of this module's own: tws-sim on Saturday 2026-06-20 11:00 ET (Juneteenth Friday
was a holiday, so the last session closed Thu 06-18 16:00 and the next opens Mon 06-22 09:30)
with IB's latency model on, and the bridge told its data is simulated. The tests run in file
order: the scans and the order happen while closed, then entitlements are taken away (no
fundamentals, then no live data), and the last test moves the clock to Monday's open.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterator

import httpx
import pytest
from wheeldesk_testing.e2e import form_values, login, wait_until
from wheeldesk_testing.moments import SATURDAY, iso
from wheeldesk_testing.procs import TEST_TOKEN
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.web_state import WebState

pytestmark = [pytest.mark.slow]

CLOSED_HEADER = "Market closed — quotes from Thu 16:00 ET"
SIM_CLOCK = re.compile(r"Simulated · market time Sat 1[01]:\d\d ET")


@pytest.fixture(scope="module")
def market_stack() -> Iterator[Stack]:
    stack = Stack.start(
        tws_args=["--start", iso(SATURDAY), "--latency", "realistic"],
        bridge_env={"IB_SIMULATED": "true"},
    )
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def web(market_stack: Stack) -> Iterator[httpx.Client]:
    client = login(market_stack)
    yield client
    client.close()


def closed_status(stack: Stack) -> dict:
    return wait_until(
        lambda: (s := stack.bridge_get("/v1/status")).get("market_open") is not None and s,
        timeout=90,
        what="the bridge's market state",
    )


def page(web: httpx.Client, path: str) -> str:
    response = web.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return html.unescape(response.text)


def test_header_says_simulated_closed_and_when_quotes_are_from(
    market_stack: Stack, web: httpx.Client
) -> None:
    status = closed_status(market_stack)
    assert status["market_open"] is False and status["simulated"] is True
    assert status["market_data_type"] == "frozen"
    text = page(web, "/dashboard/")
    assert SIM_CLOCK.search(text), "the header shows the simulated market time"
    assert CLOSED_HEADER in text
    assert "Orders placed now rest until the open, Mon 09:30 ET." in text
    # The KO position's price badge: simulated (and frozen), never "live".
    badges = re.findall(
        r'<span class="badge [^"]*" title="IB market data type[^"]*">([^<]+)<', text
    )
    assert badges and all(b == "simulated frozen" for b in badges), badges


def test_saturday_scan_runs_on_frozen_quotes_and_says_so(
    market_stack: Stack, web: httpx.Client
) -> None:
    closed_status(market_stack)
    result = market_stack.manage("scan", "--symbols", "KO,PEP", check=False)
    assert result.returncode == 0 and "signals" in result.stdout, result.stdout + result.stderr
    types = set(WebState(market_stack).signal_market_data_types())
    assert types == {"frozen"}, types
    text = page(web, "/signals/")
    assert "Quotes: market closed: frozen quotes from the last session · simulated data" in text
    assert ">simulated frozen<" in text and ">live<" not in text
    csv = web.get("/signals/export.csv").text.splitlines()
    column = csv[0].split(",").index("market_data_type")
    assert {row.split(",")[column] for row in csv[1:]} == {"simulated frozen"}


def test_order_previewed_while_closed_warns_and_rests(
    market_stack: Stack, web: httpx.Client
) -> None:
    closed_status(market_stack)
    chain = market_stack.bridge_get("/v1/chains/KO?right=P&dte_min=20&dte_max=60")
    assert chain["market_data_type"] == "frozen"
    spot = chain["underlying"].get("last") or chain["underlying"].get("close")
    puts = [q for q in chain["options"] if q.get("bid") and q["contract"]["strike"] < spot]
    assert puts, "frozen quotes keep the last session's bids"
    q = max(puts, key=lambda q: q["contract"]["strike"])
    tick = 0.01 if q["bid"] < 3 else 0.05
    limit = math.floor(q["bid"] / tick + 1e-9) * tick
    c = q["contract"]
    new = web.get(
        f"/orders/new/?symbol=KO&expiry={c['expiry']}&strike={c['strike']}&right=P"
        f"&action=SELL&quantity=1&limit_price={limit:.2f}"
    )
    assert new.status_code == 200
    prepared = web.post(
        "/orders/new/",
        data=form_values(new.text, "prepare-form"),
        headers={"Referer": f"{market_stack.web_url}/orders/new/"},
    )
    assert prepared.status_code == 302, prepared.text[:400]
    preview_url = prepared.headers["location"]
    preview = page(web, preview_url)
    assert "this order will rest at IBKR until the open (Mon 09:30 ET)" in preview
    assert "from Thu 16:00 ET" in preview
    coid = re.search(r'id="client-order-id">([^<]+)<', preview).group(1)  # type: ignore[union-attr]
    confirm = web.post(
        f"/orders/{coid}/confirm/",
        data=form_values(web.get(preview_url).text, "confirm-form"),
        headers={"Referer": f"{market_stack.web_url}{preview_url}"},
    )
    assert confirm.status_code == 302, confirm.text[:400]
    order = wait_until(
        lambda: next(
            (
                o
                for o in httpx.get(f"{market_stack.control_url}/state/orders", timeout=10).json()
                if o.get("order_ref") == coid
            ),
            None,
        ),
        timeout=30,
        what="the order at tws-sim",
    )
    assert order["status"] == "PreSubmitted" and order["filled"] == 0
    RESTING.append(coid)


RESTING: list[str] = []


def test_no_fundamentals_skips_the_rules_and_says_why(
    market_stack: Stack, web: httpx.Client
) -> None:
    market_stack.control("/control/entitlements", {"fundamentals": False})
    # JNJ's fundamentals were never asked for in this stack, so nothing cached answers them.
    result = market_stack.manage("scan", "--symbols", "JNJ", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    text = page(web, "/signals/")
    # IB's refusal (10358) is named: the trader buys the subscription rather than waiting.
    why = (
        "no fundamentals from IB: not subscribed (IB error 10358: Fundamentals data is not allowed)"
    )
    assert f"ROE unknown: {why} — rule skipped" in text
    assert "ROE 0.0%" not in text


def test_no_model_greeks_are_solved_from_the_price_and_said(market_stack: Stack) -> None:
    market_stack.control("/control/entitlements", {"greeks": False})
    try:
        # PG's chain was never asked for in this stack: every option line is new, without greeks.
        answer = httpx.post(
            f"{market_stack.screener_url}/v1/scans",
            json={"symbols": ["PG"]},
            headers={"Authorization": f"Bearer {TEST_TOKEN}"},
            timeout=300,
        )
        assert answer.status_code == 200, answer.text[:400]
        signals = answer.json()["signals"]
        assert signals, answer.text[:400]
        for sig in signals:
            assert any("no model greeks" in m for m in sig["skipped"]), sig["skipped"]
            assert sig["iv"] and sig["iv"] > 0.01 and 0 < sig["abs_delta"] < 1  # never a zero
    finally:
        market_stack.control("/control/entitlements", {"greeks": True})


def test_delayed_only_data_is_labelled_delayed(market_stack: Stack, web: httpx.Client) -> None:
    market_stack.control("/control/entitlements", {"live": False, "fundamentals": True})
    quote = wait_until(
        lambda: (q := market_stack.bridge_get("/v1/quotes?symbols=T")[0]).get("bid") and q,
        timeout=60,
        what="a delayed T quote",
    )
    assert quote["market_data_type"] == "delayed-frozen"  # no live data, market closed
    assert market_stack.bridge_get("/v1/status")["market_data_type"] == "delayed-frozen"
    # The web asks the bridge's status at most every 5 s.
    wait_until(
        lambda: "(the last session's, delayed-frozen, simulated)" in page(web, "/dashboard/"),
        timeout=30,
        what="the header's delayed-frozen label",
    )


SCHEDULED_USER, SCHEDULED_EMAIL = "morning", "morning@example.com"


def digests_to(stack: Stack, email: str) -> list[dict]:
    if not stack.outbox_dir.exists():
        return []
    metas = [json.loads(p.read_text()) for p in stack.outbox_dir.glob("*.json")]
    return [m for m in metas if m["to"] == [email] and m["template"] == "signal_digest"]


def worker_pass(stack: Stack) -> str:
    """One ordinary worker pass (no --ignore-hours, no --now: the broker's clock decides)."""
    out = stack.manage("worker", "--once", "--no-nats")
    return out.stdout + out.stderr


def test_a_scheduled_scan_does_not_run_on_a_saturday(market_stack: Stack) -> None:
    """09:45 has passed on tws-sim's Saturday, but there is no session: the worker's pass
    scans nobody and emails nothing."""
    closed_status(market_stack)
    WebState(market_stack).schedule_scans(SCHEDULED_USER, SCHEDULED_EMAIL, ["KO", "PEP"], "09:45")
    log = worker_pass(market_stack)
    assert "scheduled scan" not in log, log[-2000:]
    assert digests_to(market_stack, SCHEDULED_EMAIL) == []


def test_the_resting_order_fills_at_the_next_simulated_open(market_stack: Stack) -> None:
    assert RESTING, "the order test placed the resting order"
    market_stack.control("/control/entitlements", {"live": True})
    market_stack.control("/control/fill-mode", {"mode": "immediate"})
    # Saturday 11:00 → Monday 09:31 ET.
    market_stack.control("/control/advance", {"seconds": (46 * 60 + 31) * 60})
    order = wait_until(
        lambda: next(
            (
                o
                for o in httpx.get(f"{market_stack.control_url}/state/orders", timeout=10).json()
                if o.get("order_ref") == RESTING[0] and o["status"] == "Filled"
            ),
            None,
        ),
        timeout=30,
        what="the resting order filled at the open",
    )
    assert order["filled"] == 1
    status = wait_until(
        lambda: (s := market_stack.bridge_get("/v1/status"))["market_open"] and s,
        timeout=30,
        what="the bridge sees the market open",
    )
    assert status["server_time"].startswith("2026-06-22T13:3")  # Monday 09:3x ET in UTC


def test_the_scheduled_scan_runs_at_the_simulated_open_and_emails_the_digest(
    market_stack: Stack,
) -> None:
    """Monday 09:45 ET on tws-sim's clock, with IB's latency model on: the user's 09:45 scan
    runs in one ordinary worker pass, dated by IB's clock, and its digest reaches the outbox;
    the next pass does not scan again."""
    assert RESTING, "the Monday open test moved the clock"
    market_stack.control("/control/advance", {"seconds": 15 * 60})  # 09:31 -> 09:46
    status = wait_until(
        lambda: (
            (s := market_stack.bridge_get("/v1/status"))["server_time"] >= "2026-06-22T13:45" and s
        ),
        timeout=30,
        what="the bridge's clock past 09:45 ET",
    )
    assert status["market_open"] is True
    log = worker_pass(market_stack)
    assert f"scheduled scan {SCHEDULED_USER}" in log, log[-2000:]
    assert "worker pass at 2026-06-22" in log, log[-2000:]
    [mail] = wait_until(
        lambda: digests_to(market_stack, SCHEDULED_EMAIL) or None,
        timeout=60,
        what="the scheduled scan's digest in the outbox",
    )
    assert "New signals" in mail["subject"]
    again = worker_pass(market_stack)
    assert "scheduled scan" not in again, again[-2000:]
    assert len(digests_to(market_stack, SCHEDULED_EMAIL)) == 1
