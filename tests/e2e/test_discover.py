"""Discover in the browser on a demo stack of its own: a ready idea, two results to the
watchlist, then the wheel screen on the results with its "why" and "why not".

Its own stack: the discovery lists tws-sim's scanner names into that market and changes the
demo user's watchlist, which the session stack's browser tests must not see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from wheeldesk_testing.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def discover_stack() -> Iterator[Stack]:
    started = Stack.start()
    yield started
    started.stop()


def login(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.web_url}/accounts/login/")
    page.fill("input[name=username]", stack.username)
    page.fill("input[name=password]", stack.password)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def shoot(page: Page, name: str) -> None:
    """Desktop and phone screenshots; at phone width the page must not scroll sideways."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}.png"), full_page=True)
        if width == 390:
            scrolls = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
            assert not scrolls, f"{name} scrolls sideways at 390 px"
    page.set_viewport_size({"width": 1440, "height": 900})


def test_ready_idea_to_watchlist_and_wheel_screen(page: Page, discover_stack: Stack) -> None:
    stack = discover_stack
    login(page, stack)
    page.goto(f"{stack.web_url}/dashboard/")
    page.click("nav >> text=Discover")
    expect(page).to_have_url(re.compile(r"/discover/$"))
    # the own-scan form offers IB's scan codes (never typed)
    options = page.locator("#id_scan_code option").all_inner_texts()
    assert "Highest Opt Imp Vol Over Historical" in options

    page.click("button[data-idea=iv-over-hist]")
    expect(page.locator("#messages")).to_contain_text("IBKR ranked 20 stocks", timeout=120_000)
    rows = page.locator("#results-table tbody tr[data-symbol]")
    expect(rows).to_have_count(20)
    first = rows.nth(0)
    expect(first.locator("td").nth(1)).to_have_text("1")
    symbols = rows.evaluate_all("rs => rs.map(r => r.dataset.symbol)")
    prices = [float(t.replace(",", "")) for t in rows.evaluate_all(
        "rs => rs.map(r => r.querySelectorAll('td')[2].innerText)"
    )]  # fmt: skip
    assert all(20 * 0.99 < p < 200 * 1.01 for p in prices), prices
    expect(first.locator("td").nth(3)).to_have_text(re.compile(r"^\d+\.\d%$"))  # IV
    expect(first.locator("td").nth(4)).to_have_text(re.compile(r"^\$[\d.]+[MBT]$"))

    shoot(page, "discover")

    picked = symbols[:2]
    for s in picked:
        page.check(f"#pick-{s}")
    page.click("#add-picked")
    expect(page.locator("#messages")).to_contain_text(f"Added {picked[0]}, {picked[1]} to Main")
    page.goto(f"{stack.web_url}/watchlist/")
    for s in picked:
        expect(page.locator(f"#watchlist-table tr[data-symbol={s}]")).to_be_visible()

    page.goto(f"{stack.web_url}/discover/")
    page.click("#screen-all")
    expect(page).to_have_url(re.compile(r"/signals/\?scan=\d+"))
    expect(page.locator("#messages")).to_contain_text("Scan finished", timeout=240_000)
    signals = page.locator("#signals-table tbody tr[data-signal]")
    expect(signals.first).to_be_visible()
    scanned = set(signals.evaluate_all("rs => rs.map(r => r.dataset.symbol || '')")) - {""}
    assert scanned <= set(symbols) | {"KO", "AAPL"}  # the results, plus what the account holds
    why = signals.first.locator("details.why")
    why.locator("summary").click()
    expect(why.locator("li").first).to_be_visible()
    expect(page.locator("#rejections-table tbody tr").first).to_be_visible()
