"""The stock page says, in one plain line and in the screener's words, why IB sent no
fundamental ratios: the trader buys a subscription for a refusal, and waits for silence."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth import get_user_model
from web_factories import quote
from wheeldesk.schemas.market import Fundamentals, History, StockInfo

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_in(client):  # type: ignore[no-untyped-def]
    client.force_login(
        get_user_model().objects.create_user("stocks", "s@example.com", "s3cret-pass-123")
    )
    return client


def _page(client_in, bridge, fundamentals: Fundamentals) -> str:  # type: ignore[no-untyped-def]
    """The KO page with the bridge answering `fundamentals` for it (and a year of no bars)."""
    bridge.stock = lambda symbol: StockInfo(
        symbol=symbol, quote=quote(symbol, 64.0), fundamentals=fundamentals
    )
    bridge.history = lambda symbol, days=365: History(symbol=symbol, bars=[])
    response = client_in.get("/stocks/KO/")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_missing_fundamentals_say_why_in_one_line(client_in, bridge) -> None:
    # the words per answer are the screener's (`fundamentals_missing`, pinned by its tests):
    # the page puts IB's refusal, or its silence, in one line under the figures
    for f, why in (
        (
            Fundamentals(
                status="not_subscribed", ib_code=10358, reason="Fundamentals data is not allowed."
            ),
            "not subscribed (IB error 10358: Fundamentals data is not allowed)",
        ),
        (
            Fundamentals(status="no_answer", reason="IB sent no tick 258 within 5 s"),
            "no answer in time (IB sent no tick 258 within 5 s; scan again later)",
        ),
        (Fundamentals(), "tick 258 not subscribed or not answered"),  # an older bridge
    ):
        line = (
            '<p class="mt-2 text-sm text-slate-600" id="fundamentals-missing">'
            f"Fundamentals: {why} — the fundamental rules are skipped</p>"
        )
        assert line in _page(client_in, bridge, f), f.status


def test_no_line_when_ib_sent_the_ratios(client_in, bridge) -> None:
    # IB answered; a ratio it left out shows as a blank card, with no refusal to report
    partial = Fundamentals(status="ok", beta=0.6, market_cap=260e9)
    assert 'id="fundamentals-missing"' not in _page(client_in, bridge, partial)
    unsaid = Fundamentals(beta=0.6)  # an older bridge that did send ratios
    assert 'id="fundamentals-missing"' not in _page(client_in, bridge, unsaid)
