"""The web app in the system Chromium against the whole stack on tws-sim (account DU7654321).

Screenshots land in test-artifacts/ at 1440×900 and 390×844; at phone width the page must
not scroll sideways (tables scroll inside their own container).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
SCAN_SYMBOLS = "KO, PEP, JNJ, RIVN, T, VZ"


def login(page: Page, stack) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{stack.web_url}/accounts/login/")
    page.fill("input[name=username]", stack.username)
    page.fill("input[name=password]", stack.password)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def shoot(page: Page, name: str) -> None:
    """Screenshots at desktop and phone width; asserts the phone layout never scrolls sideways."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)  # let the layout (and the chart) settle after the resize
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}.png"), full_page=True)
        if width == 390:
            assert no_horizontal_scroll(page), f"{name} scrolls sideways at 390 px"
    page.set_viewport_size({"width": 1440, "height": 900})


def test_login_and_dashboard_shows_the_simulated_account(page: Page, stack) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{stack.web_url}/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/"))
    login(page, stack)
    page.goto(f"{stack.web_url}/dashboard/")
    expect(page.locator("#account-id")).to_have_text("DU7654321")
    stock_row = page.locator("#positions-stock tr[data-symbol=KO]")
    expect(stock_row).to_contain_text("200")
    # tws-sim's prices are labelled simulated, never live (the stack's bridge has IB_SIMULATED)
    expect(stock_row.locator(".badge")).to_have_text(re.compile("^simulated"))
    expect(stock_row.locator("[data-age-of]")).to_have_text(re.compile(r"ago"))
    put_row = page.locator("#positions-options tr[data-symbol=AAPL]")
    expect(put_row).to_contain_text(re.compile(r"AAPL \d{4}-\d{2}-\d{2} [\d.]+P"))
    expect(put_row).to_contain_text("-1")
    shoot(page, "dashboard")


def test_watchlist_add_refuse_unknown_and_remove(page: Page, stack) -> None:  # type: ignore[no-untyped-def]
    login(page, stack)
    page.goto(f"{stack.web_url}/watchlist/")
    page.fill("#id_symbol", "zzzz")
    page.click("#add-form button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("Unknown ticker ZZZZ")
    expect(page.locator("#id_symbol-error")).to_contain_text("Unknown ticker ZZZZ")
    # SBUX: a ticker no other test on the shared stack puts on the demo's watchlist
    page.fill("#id_symbol", "  sbux ")
    page.fill("#id_notes", "dividend king")
    page.click("#add-form button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("Added SBUX")
    row = page.locator("#watchlist-table tr[data-symbol=SBUX]")
    expect(row).to_contain_text("SBUX")
    expect(row.locator("input[name=notes]")).to_have_value("dividend king")
    row.get_by_role("button", name="Remove SBUX").click()
    expect(page.locator("#messages")).to_contain_text("Removed SBUX")
    expect(page.locator("#watchlist-table tr[data-symbol=SBUX]")).to_have_count(0)


def test_scan_now_sort_filter_why_and_why_not(page: Page, stack) -> None:  # type: ignore[no-untyped-def]
    login(page, stack)
    page.goto(f"{stack.web_url}/watchlist/")
    page.fill("#id_symbols", SCAN_SYMBOLS)
    page.click("form[action$='/import/'] button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("Imported")
    page.goto(f"{stack.web_url}/signals/")
    page.click("#scan-now")
    expect(page.locator("#scan-progress")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("Scan finished", timeout=180_000)
    rows = page.locator("#signals-table tbody tr[data-signal]")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 2
    shoot(page, "signals")

    page.click("#signals-table th[data-col=apy] a")
    expect(page.locator("#signals-table th[data-col=apy]")).to_have_attribute(
        "aria-sort", "descending"
    )
    values = rows.evaluate_all("rs => rs.map(r => r.dataset.apy)")
    apys = [float(v) for v in values if v]  # a CLOSE (a buy-back) has no APY
    assert apys == sorted(apys, reverse=True) and len(apys) >= 2
    assert values[: len(apys)] == [v for v in values if v]  # rows without one come last

    tiers = set(rows.evaluate_all("rs => rs.map(r => r.dataset.tier)"))
    tier = sorted(tiers)[0]
    page.locator("#signal-filters").evaluate("f => f.closest('details').open = true")
    page.check(f"#signal-filters input[name=tier][value={tier}]")
    page.click("#signal-filters button[type=submit]")
    expect(page).to_have_url(re.compile(f"tier={tier}"))
    filtered = set(rows.evaluate_all("rs => rs.map(r => r.dataset.tier)"))
    assert filtered == {tier}

    first = rows.first
    why = first.locator("details.why")
    why.locator("summary").click()
    expect(why.locator("li").first).to_be_visible()
    assert why.locator("li").first.inner_text().strip()

    expect(page.locator("#rejections-table tr[data-symbol=RIVN]").first).to_be_visible()


def test_chain_page(page: Page, stack) -> None:  # type: ignore[no-untyped-def]
    login(page, stack)
    page.goto(f"{stack.web_url}/stocks/KO/chain/")
    expect(page.locator(".chain-table").first).to_be_visible(timeout=60_000)
    expect(page.locator("#expiry-tabs a").first).to_be_visible()
    expect(page.locator(".chain-table [data-age-of]").first).to_have_text(re.compile("ago"))
    shoot(page, "chain")


def test_a_quote_changes_on_screen_without_reload(page: Page, stack) -> None:  # type: ignore[no-untyped-def]
    login(page, stack)
    page.goto(f"{stack.web_url}/dashboard/")
    cell = page.locator("#positions-stock tr[data-symbol=KO] td.live-quote [data-price]")
    expect(cell).to_be_visible()
    page.evaluate("window.__not_reloaded = true")
    before = stack.bridge_get("/v1/quotes?symbols=KO")[0]
    original = before["last"] or before["close"]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stack.control("/control/price", {"symbol": "KO", "price": 77.77})
            try:
                expect(cell).to_have_text("77.77", timeout=3_000)
                break
            except AssertionError:
                continue
        expect(cell).to_have_text("77.77")
        assert page.evaluate("window.__not_reloaded === true")
    finally:
        stack.control("/control/price", {"symbol": "KO", "price": original})  # shared stack


def test_connectivity_loss_shows_the_banner_live(page: Page, stack) -> None:  # type: ignore[no-untyped-def]
    login(page, stack)
    page.goto(f"{stack.web_url}/dashboard/")
    expect(page.locator("#account-id")).to_have_text("DU7654321")
    expect(page.locator(".ibkr-disconnected")).to_have_count(0)
    page.evaluate("window.__not_reloaded = true")
    stack.control("/control/connectivity", {"state": "lost"})
    try:
        expect(page.locator(".ibkr-disconnected")).to_contain_text("IBKR disconnected")
        expect(page.locator("#ibkr-pill .badge")).to_have_text("IBKR ○")
    finally:
        stack.control("/control/connectivity", {"state": "restored"})
    expect(page.locator(".ibkr-disconnected")).to_have_count(0)
    expect(page.locator("#ibkr-pill .badge")).to_have_text("IBKR ●")
    assert page.evaluate("window.__not_reloaded === true")


def test_bridge_down_shows_the_banner_not_an_error(page: Page, stack) -> None:  # type: ignore[no-untyped-def]
    login(page, stack)
    page.goto(f"{stack.web_url}/dashboard/")
    expect(page.locator("#account-id")).to_have_text("DU7654321")
    stack.bridge.stop()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            response = page.goto(f"{stack.web_url}/dashboard/")
            assert response is not None and response.status == 200
            # The banner and the dashboard's own "last known" note (its data is cached 2 s).
            if (
                page.locator(".ibkr-disconnected").count()
                and page.locator("#dashboard-stale").count()
            ):
                break
            page.wait_for_timeout(500)
        expect(page.locator(".ibkr-disconnected")).to_contain_text("IBKR disconnected")
        expect(page.locator("#account-id")).to_have_text("DU7654321")  # last known, with its age
        expect(page.locator("#dashboard-stale")).to_be_visible()
        for path in ("/signals/", "/watchlist/", "/stocks/", "/stocks/KO/", "/"):
            assert page.goto(f"{stack.web_url}{path}").status < 500, path
    finally:
        stack.bridge.start(timeout=120)
    assert httpx.get(f"{stack.bridge_url}/readyz", timeout=5).status_code == 200
