"""Orders and the ledger in a real browser, on the full stack over tws-sim.

A stack of this module's own (with the worker) because these tests move tws-sim's
clock and place orders: the session stack other browser tests share stays untouched.
Every test runs on each database the web supports (`web_database`: SQLite, then PostgreSQL),
so what they read comes from the pages or the web's own models, never from one engine's file.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def wheel_stack(web_database):  # type: ignore[no-untyped-def]
    from wheeldesk_testing.stack import Stack

    stack = Stack.start(worker=True, web_env=web_database)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def module_browser():  # type: ignore[no-untyped-def]
    """This module's own Chromium, closed with the module: Playwright's sync API keeps an
    event loop running while it is open, which later asyncio tests must not inherit."""
    from playwright.sync_api import sync_playwright
    from wheeldesk_testing.fixtures import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(module_browser):  # type: ignore[no-untyped-def]
    context = module_browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def login(page, stack) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{stack.web_url}/accounts/login/")
    page.fill("#id_username", stack.username)
    page.fill("#id_password", stack.password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def sim_orders(stack, coid: str) -> list[dict]:  # type: ignore[no-untyped-def]
    orders = httpx.get(f"{stack.control_url}/state/orders", timeout=10).json()
    return [o for o in orders if o.get("order_ref") == coid]


def put_contract(stack, symbol: str, need_bid: bool = True) -> tuple[str, float, float]:  # type: ignore[no-untyped-def]
    """The highest OTM put 3-8 weeks out that has a bid: (expiry, strike, bid). Without
    `need_bid` (a page to look at, not an order to fill; the market may be closed after an
    earlier test moved tws-sim's clock) any listed put will do, at a nominal 1.00."""
    chain = stack.bridge_get(f"/v1/chains/{symbol}?right=P&dte_min=20&dte_max=60")
    spot = chain["underlying"].get("last") or chain["underlying"].get("close")
    quotes = [
        q
        for q in chain["options"]
        if (q.get("bid") or not need_bid) and (spot is None or q["contract"]["strike"] < spot)
    ]
    assert quotes, f"no put with a bid in {symbol}'s chain"
    q = max(
        quotes,
        key=lambda q: (
            q["contract"]["expiry"] == quotes[0]["contract"]["expiry"],
            q["contract"]["strike"],
        ),
    )
    return q["contract"]["expiry"], q["contract"]["strike"], q.get("bid") or 1.0


def open_preview(page, stack, symbol: str, action: str = "SELL", need_bid: bool = True) -> str:  # type: ignore[no-untyped-def]
    expiry, strike, bid = put_contract(stack, symbol, need_bid)
    page.goto(
        f"{stack.web_url}/orders/new/?symbol={symbol}&expiry={expiry}&strike={strike}&right=P"
        f"&action={action}&quantity=1&limit_price={bid:.2f}"
    )
    page.click("#prepare-order")  # the link's page writes nothing; its button prepares
    page.wait_for_selector("#confirm-order")
    return page.inner_text("#client-order-id")


def wait_status(page, status: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(f"#order-status[data-status='{status}']", timeout=60_000)


def scan_for_a_put(page, stack) -> int:  # type: ignore[no-untyped-def]
    """Run the real scan (screener over the bridge over tws-sim); the best CSP signal's id, as
    the signals page ranks them (by score)."""
    result = stack.manage("scan", "--symbols", "KO,PEP,JNJ,PG,WMT", check=False)
    page.goto(f"{stack.web_url}/signals/?kind=CSP&sort=-score")
    # Not a symbol tws-sim's starting book holds (200 KO, a short AAPL put: scans add held
    # symbols): the ledger would fold the sale into that position's cycle.
    rows = page.locator("#signals-table tbody tr[data-signal]")
    ids = [
        int(rows.nth(i).get_attribute("data-signal") or 0)
        for i in range(rows.count())
        if rows.nth(i).get_attribute("data-symbol") not in ("KO", "AAPL")
    ]
    assert ids, f"the scan produced no CSP signal: {result.stdout} {result.stderr}"
    return ids[0]


def test_signal_to_filled_order_history_dashboard_and_ledger(page, wheel_stack):
    stack = wheel_stack
    stack.control("/control/fill-mode", {"mode": "immediate"})
    login(page, stack)
    signal_id = scan_for_a_put(page, stack)
    page.goto(f"{stack.web_url}/signals/{signal_id}/")
    assert page.locator("#payoff-chart").count() == 1  # the payoff at expiry partial
    page.click("#preview-order")
    page.click("#prepare-order")
    page.wait_for_selector("#confirm-order")
    coid = page.inner_text("#client-order-id")
    assert page.get_attribute("#trading-mode", "data-mode") == "paper"
    assert "DU7654321" in page.inner_text("#trading-mode")
    page.click("[data-set-limit]")  # take the bid
    with page.expect_navigation():  # the update is previewed again: a new page
        page.click("#update-preview")
    page.wait_for_selector("#confirm-order")
    contract = page.inner_text("h1").split("×", 1)[1].strip()
    page.click("#confirm-order")
    wait_status(page, "filled")
    assert page.inner_text("#filled").startswith("1 / 1")
    fill = Decimal(page.inner_text("#avg-fill").lstrip("$"))
    assert len(sim_orders(stack, coid)) == 1
    page.goto(f"{stack.web_url}/orders/")
    assert page.get_attribute(f"tr[data-client-order-id='{coid}']", "data-status") == "filled"
    symbol, expiry = contract.split()[:2]
    page.goto(f"{stack.web_url}/dashboard/")
    options = page.inner_text("#positions-options")
    assert symbol in options and expiry in options
    assert page.locator(f"#cycles-in-progress li[data-symbol='{symbol}']").count() == 1
    page.goto(f"{stack.web_url}/ledger/?symbol={symbol}")
    row = page.locator(f"#cycles tr[data-symbol='{symbol}']").first
    assert row.get_attribute("data-state") == "short_put"
    assert row.locator(".cycle-premium").inner_text() == f"${fill * 100:,.2f}"


def test_double_click_and_replayed_confirm_place_one_order(page, wheel_stack):
    stack = wheel_stack
    stack.control("/control/fill-mode", {"mode": "never"})
    login(page, stack)
    coid = open_preview(page, stack, "PEP")
    # Sending, the button keeps its width: nothing slides under a double click's second click
    # (it once moved "Back to orders" there, and the page left for the orders list).
    back = page.locator("#confirm-form a")
    page.locator("#confirm-order").scroll_into_view_if_needed()
    before = back.bounding_box()
    page.evaluate(
        "document.getElementById('confirm-form')"
        ".addEventListener('submit', (e) => e.preventDefault())"
    )
    page.click("#confirm-order")
    page.wait_for_selector("#confirm-order[disabled]")
    assert page.inner_text("#confirm-order") == "Sending…"
    assert back.bounding_box() == before
    page.reload()
    token = page.input_value("#confirm-form input[name=csrfmiddlewaretoken]")
    ticket = page.input_value("#confirm-form input[name=ticket]")
    confirm_url = f"{stack.web_url}/orders/{coid}/confirm/"
    # three confirms racing from the page (a double click on a slow connection, a retry)
    statuses = page.evaluate(
        """async ([url, token, ticket]) => {
            const post = () => fetch(url, {method: "POST", redirect: "manual",
                headers: {"Content-Type": "application/x-www-form-urlencoded"},
                body: "csrfmiddlewaretoken=" + encodeURIComponent(token)
                    + "&ticket=" + encodeURIComponent(ticket)});
            const answers = await Promise.all([post(), post(), post()]);
            return answers.map((r) => r.type === "opaqueredirect" ? 302 : r.status);
        }""",
        [confirm_url, token, ticket],
    )
    assert statuses == [302, 302, 302]
    page.dblclick("#confirm-order")
    wait_status(page, "submitted")
    # the browser replays the confirm POST (reload after a timeout, a retry)
    for _ in range(2):
        r = page.request.post(
            confirm_url, form={"csrfmiddlewaretoken": token}, headers={"Referer": confirm_url}
        )
        assert r.ok
    page.reload()
    wait_status(page, "submitted")
    assert len(sim_orders(stack, coid)) == 1
    # The audit trail, read through the web's own models (on either database).
    from wheeldesk_testing.web_state import WebState

    web = WebState(stack)
    sends = len(web.order_audits(coid, "send"))
    duplicates = len(web.order_audits(coid, "duplicate"))
    assert sends == 1 and duplicates >= 4, (sends, duplicates)


def test_cancel_a_working_order(page, wheel_stack):
    stack = wheel_stack
    stack.control("/control/fill-mode", {"mode": "never"})
    login(page, stack)
    coid = open_preview(page, stack, "JNJ")
    page.click("#confirm-order")
    wait_status(page, "submitted")
    page.click("#cancel-order")
    wait_status(page, "cancelled")
    [sim] = sim_orders(stack, coid)
    assert sim["status"].lower().startswith(("cancel", "apicancel"))


def test_expiry_with_itm_short_put_becomes_an_assigned_cycle(page, wheel_stack):
    stack = wheel_stack
    stack.control("/control/fill-mode", {"mode": "immediate"})
    login(page, stack)
    open_preview(page, stack, "T")
    page.click("#confirm-order")
    wait_status(page, "filled")
    # The order's page: "Sell 1 × T 2026-07-17 30P @ 1.10" and its average fill price.
    contract = re.search(r"× T (\d{4}-\d\d-\d\d) ([\d.]+)P", page.inner_text("h1"))
    assert contract, page.inner_text("h1")
    expiry, strike = contract.group(1), Decimal(contract.group(2))
    fill_price = Decimal(page.inner_text("#avg-fill").lstrip("$"))
    # deep in the money, then past expiry: tws-sim assigns 100 shares at the strike
    stack.control("/control/price", {"symbol": "T", "price": float(strike) * 0.8})
    days = (
        date.fromisoformat(expiry) - date.fromisoformat(stack.control("/state")["sim_time"][:10])
    ).days
    stack.control("/control/advance", {"days": days + 1})
    expected = (strike - fill_price).quantize(Decimal("0.01"))  # basis = strike − premium/share
    page.goto(f"{stack.web_url}/ledger/?symbol=T")
    for _ in range(60):
        page.click("#ledger-sync")
        page.wait_for_load_state()
        row = page.locator("#cycles tr[data-symbol='T']").first
        if row.count() and row.get_attribute("data-state") == "shares":
            break
        page.wait_for_timeout(1000)
    row = page.locator("#cycles tr[data-symbol='T']").first
    assert row.get_attribute("data-state") == "shares"
    assert row.locator(".cycle-state").inner_text() == "Holding shares"
    assert row.locator(".cycle-basis").inner_text() == f"${expected:,.2f}"


FLEX_INTC = """<?xml version="1.0" encoding="UTF-8"?>
<FlexQueryResponse queryName="trades" type="AF"><FlexStatements count="1">
<FlexStatement accountId="U1234567"><Trades>
<Trade assetCategory="OPT" underlyingSymbol="INTC" symbol="INTC 250321P00030000" putCall="P"
 strike="30" expiry="20250321" multiplier="100" dateTime="20250303;100000" quantity="-2"
 tradePrice="2.00" ibCommission="-1.30" buySell="SELL" ibExecID="fx.1"/>
<Trade assetCategory="OPT" underlyingSymbol="INTC" symbol="INTC 250321P00030000" putCall="P"
 strike="30" expiry="20250321" multiplier="100" dateTime="20250321;162000" quantity="2"
 tradePrice="0" buySell="BUY" notes="A" ibExecID="fx.2"/>
<Trade assetCategory="STK" symbol="INTC" dateTime="20250321;162000" quantity="200"
 tradePrice="30" buySell="BUY" notes="A" ibExecID="fx.3"/>
<Trade assetCategory="OPT" underlyingSymbol="INTC" symbol="INTC 250417C00031000" putCall="C"
 strike="31" expiry="20250417" multiplier="100" dateTime="20250324;100000" quantity="-2"
 tradePrice="0.75" ibCommission="-1.30" buySell="SELL" ibExecID="fx.4"/>
<Trade assetCategory="OPT" underlyingSymbol="INTC" symbol="INTC 250417C00031000" putCall="C"
 strike="31" expiry="20250417" multiplier="100" dateTime="20250417;162000" quantity="2"
 tradePrice="0" buySell="BUY" notes="A" ibExecID="fx.5"/>
<Trade assetCategory="STK" symbol="INTC" dateTime="20250417;162000" quantity="-200"
 tradePrice="31" buySell="SELL" notes="A" ibExecID="fx.6"/>
</Trades></FlexStatement></FlexStatements></FlexQueryResponse>"""


def test_flex_upload_in_the_browser_builds_the_cycle(page, wheel_stack, tmp_path):
    stack = wheel_stack
    login(page, stack)
    report = tmp_path / "flex-trades.xml"
    report.write_text(FLEX_INTC)
    page.goto(f"{stack.web_url}/ledger/")
    page.set_input_files("#flex-file", str(report))
    page.click("#flex-import")
    page.wait_for_selector("text=Imported 6 new trade(s) of 6")
    page.goto(f"{stack.web_url}/ledger/?symbol=INTC&state=closed")
    row = page.locator("#cycles tr[data-symbol='INTC']")
    assert row.count() == 1
    # net premium = 2 × 100 × (2.00 + 0.75) = 550; basis = 30 − 550 / 200 = 27.25
    assert row.locator(".cycle-premium").inner_text() == "$550.00"
    assert row.locator(".cycle-basis").inner_text() == "$27.25"
    assert row.locator(".cycle-state").inner_text() == "Closed — shares called away"
    row.locator("a").click()
    assert page.locator("#timeline li").count() == 6


def test_order_and_ledger_pages_fit_a_phone(page, wheel_stack):
    from pathlib import Path

    stack = wheel_stack
    login(page, stack)
    artifacts = Path(__file__).resolve().parents[3] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    coid = open_preview(page, stack, "KO", need_bid=False)
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for name, path in (
            ("order-preview", f"/orders/{coid}/"),
            ("orders", "/orders/"),
            ("ledger", "/ledger/"),
            ("alerts", "/alerts/"),
        ):
            page.goto(f"{stack.web_url}{path}")
            page.wait_for_load_state()
            page.screenshot(path=str(artifacts / f"{name}-{width}.png"), full_page=True)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{name} scrolls sideways at {width}px ({scroll}px)"
