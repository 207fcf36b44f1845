"""Screener or bridge down: every page the web's navigation links to answers with a clear state.

Uses the suite's fault stack and stops one service at a time (restarted in `finally`), then walks every
internal link of the logged-in dashboard: a page must answer (never a 5xx, never a traceback) and
say which service is missing.
"""

from __future__ import annotations

import re

import pytest
from wheeldesk_testing.e2e import login, ready, wait_until
from wheeldesk_testing.stack import Stack

pytestmark = pytest.mark.slow

SKIP = re.compile(r"^/(static|accounts/logout|admin|live/stream|metrics|media)")


def _nav_urls(stack: Stack) -> list[str]:
    client = login(stack)
    try:
        html = client.get("/dashboard/").text
    finally:
        client.close()
    urls = sorted({h for h in re.findall(r'href="(/[^"#?]*)', html) if not SKIP.match(h)})
    assert len(urls) >= 4, urls
    return urls


def _walk(stack: Stack, urls: list[str]) -> dict[str, str]:
    client = login(stack)
    pages = {}
    try:
        for url in urls:
            response = client.get(url, timeout=60)
            assert response.status_code < 500, f"{url}: {response.status_code}"
            assert response.status_code in (200, 302), f"{url}: {response.status_code}"
            assert "Traceback" not in response.text and "Server Error" not in response.text, url
            pages[url] = response.text
    finally:
        client.close()
    return pages


@pytest.mark.parametrize("down", ["screener", "bridge", "both"])
def test_every_nav_page_answers_with_a_clear_state(fault_stack: Stack, down: str) -> None:
    stack = fault_stack
    urls = _nav_urls(stack)
    procs = {"screener": [stack.screener], "bridge": [stack.bridge]}.get(
        down, [stack.screener, stack.bridge]
    )
    for proc in procs:
        proc.stop()
    markers = []
    if down in ("screener", "both"):
        markers += ['data-service="screener"', "Scans are unavailable"]
    if down in ("bridge", "both"):
        markers += ["IBKR disconnected"]
    try:
        # The web checks /readyz with a few seconds' cache: the banner shows once that expires.
        client = login(stack)
        try:
            wait_until(
                lambda: all(m in client.get("/dashboard/").text for m in markers),
                60,
                f"the dashboard to say {markers}",
            )
        finally:
            client.close()
        # Every page answers, and each page with the banner says what is missing (a page may
        # be served by a web worker whose few-second status cache has not expired yet: re-ask).
        for url in urls:
            wait_until(
                lambda url=url: (
                    (html := _walk(stack, [url])[url])
                    and ('id="service-banner"' not in html or all(m in html for m in markers))
                ),
                30,
                f"{url} to say {markers}",
            )
    finally:
        for proc in procs:
            proc.start(wait=False)
        for proc in procs:
            wait_until(lambda proc=proc: ready(proc.url), 120, f"{proc.name} back")
    # With everything back the banners go (once the web's short status cache expires).
    wait_until(
        lambda: not any(m in _walk(stack, ["/dashboard/"])["/dashboard/"] for m in markers),
        60,
        "the banners to go",
    )
    _walk(stack, urls)
