"""The demo says what its data is: SIMULATED and IB's (simulated) market time, never LIVE.

A stack of this module's own with the bridge told its IB is tws-sim (IB_SIMULATED, as `make
run` sets it), at the pinned moment Wed 2026-06-17 10:30 ET (market open). In the system
Chromium: the header shows "Simulated · market time Wed 10:3x ET", and on the main pages
every data-type badge says simulated, none says live (issue 18).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from wheeldesk_testing.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAIN_PAGES = (
    "/dashboard/",
    "/watchlist/",
    "/signals/",
    "/stocks/",
    "/stocks/KO/",
    "/stocks/KO/chain/",
)


@pytest.fixture(scope="module")
def demo_stack() -> Iterator[Stack]:
    stack = Stack.start(bridge_env={"IB_SIMULATED": "true"})
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def module_browser() -> Iterator[Browser]:
    """This module's own Chromium, closed with the module (Playwright's sync API keeps an
    event loop running while it is open, which later asyncio tests must not inherit)."""
    from playwright.sync_api import sync_playwright
    from wheeldesk_testing.fixtures import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(module_browser: Browser) -> Iterator[Page]:
    context = module_browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def login(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.web_url}/accounts/login/")
    page.fill("input[name=username]", stack.username)
    page.fill("input[name=password]", stack.password)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def test_header_says_simulated_with_the_market_time(page: Page, demo_stack: Stack) -> None:
    login(page, demo_stack)
    page.goto(f"{demo_stack.web_url}/dashboard/")
    clock = page.locator("#market-clock")
    # IB's clock, not this machine's: the pinned Wednesday 10:30 ET plus the minutes the test took.
    expect(clock).to_have_text(re.compile(r"^Simulated · market time Wed 1[01]:\d\d ET$"))
    assert clock.evaluate("e => getComputedStyle(e).textTransform") == "uppercase"
    assert page.locator("#market-closed").count() == 0  # open at 10:30 on a Wednesday


def test_no_live_label_on_simulated_data(page: Page, demo_stack: Stack) -> None:
    demo_stack.subscribe("KO")
    login(page, demo_stack)
    page.goto(f"{demo_stack.web_url}/watchlist/")
    seen = 0
    for path in MAIN_PAGES:
        page.goto(f"{demo_stack.web_url}{path}")
        page.wait_for_load_state("networkidle")
        badges = [t.strip().lower() for t in page.locator(".badge").all_text_contents()]
        assert "live" not in badges, f"{path}: a LIVE badge on simulated data: {badges}"
        seen += sum(b.startswith("simulated") for b in badges)
        if path == "/dashboard/":
            ko = page.locator("#positions-stock tr[data-symbol=KO] .badge")
            expect(ko).to_have_text("simulated")
    assert seen >= 3, "prices on the main pages carry a SIMULATED badge"
