"""Next earnings, end to end: tws-sim's Wall Street Horizon calendar → bridge → screener → web.

tws-sim's CSCO reports 12 days after the simulator's first day (universe.json), inside the
default 7–45 DTE window, so a scan with the demo user's default criteria (earnings: exclude)
turns its later puts away with the date, and the stock page shows the same date.
"""

from __future__ import annotations

import html
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
from wheeldesk_testing.e2e import login
from wheeldesk_testing.procs import TEST_TOKEN
from wheeldesk_testing.stack import Stack


def test_earnings_date_on_the_stock_page_and_in_the_why_not(stack: Stack) -> None:
    info = httpx.get(
        f"{stack.bridge.url}/v1/stocks/CSCO",
        headers={"Authorization": f"Bearer {TEST_TOKEN}"},
        timeout=60,
    ).json()
    earnings = date.fromisoformat(info["fundamentals"]["next_earnings"])
    today = datetime.fromisoformat(stack.control("/state")["sim_time"])
    days = (earnings - today.astimezone(ZoneInfo("America/New_York")).date()).days
    assert 7 < days < 45, days  # nobody moves the session stack's clock
    web = login(stack)
    try:
        page = web.get("/stocks/CSCO/")
        assert page.status_code == 200
        card = f'Next earnings</div><div class="font-semibold">{earnings:%Y-%m-%d}</div>'
        assert card in page.text
        assert "Wall Street Horizon (Confirmed" in page.text  # where the date came from
        out = stack.manage("scan", "--symbols", "CSCO").stdout
        assert "signals" in out
        signals = html.unescape(web.get("/signals/").text)
        assert f"CSP: earnings on {earnings:%Y-%m-%d} come before this expiry" in signals
    finally:
        web.close()
