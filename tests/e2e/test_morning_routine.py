"""A new user's first morning: the ledger starts from the account, not empty.

Real processes over sockets (nats-server, tws-sim driven by ib_insync through the bridge,
the screener, the web): a stack of its own, so the sync below is the account's first one
whoever else ran before. tws-sim's demo book is 200 KO and one short AAPL put.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from wheeldesk.testing.e2e import db_rows, login
from wheeldesk.testing.stack import Stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fresh_stack():  # type: ignore[no-untyped-def]
    started = Stack.start()
    yield started
    started.stop()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_first_sync_offers_the_opening_lots_and_the_ledger_matches_the_account(
    fresh_stack: Stack,
) -> None:
    stack = fresh_stack
    client = login(stack)
    token = client.cookies["csrftoken"]
    account = {
        (p["symbol"], p["sec_type"], p.get("expiry"), p.get("strike"), p.get("right")): p
        for p in stack.bridge_get("/v1/positions")
    }
    ko = account[("KO", "STK", None, None, None)]
    (aapl_key,) = [k for k in account if k[0] == "AAPL" and k[1] == "OPT"]
    aapl = account[aapl_key]
    assert ko["quantity"] == 200 and aapl["quantity"] == -1

    r = client.post("/ledger/sync/", data={"csrfmiddlewaretoken": token})
    assert r.status_code == 302
    page = client.get("/ledger/").text
    panel = re.search(r'id="ledger-onboarding".*?</section>', page, re.S)
    assert panel, page[:2000]
    text = _text(panel.group(0))
    assert "KO shares opening lot" in text
    strike = f"{aapl['strike']:g}"
    assert f"short AAPL {aapl['expiry']} {strike}P opening lot" in text
    # shares at IB's average cost, the short put at its open price (IB: per contract / 100)
    assert f'value="{round(ko["avg_cost"], 4):g}"' in panel.group(0)
    assert f'value="{round(aapl["avg_cost"] / 100, 4):g}"' in panel.group(0)
    assert "Held but not on your watchlist:" in text and "KO" in text and "AAPL" in text
    assert 'id="ledger-reconciliation"' not in page  # nothing to reconcile

    # accept: seed the watchlist from the symbols held
    r = client.post("/ledger/seed-watchlist/", data={"csrfmiddlewaretoken": token})
    assert r.status_code == 302
    watched = {s for (s,) in db_rows(stack, "SELECT symbol FROM watchlist_watchlistitem")}
    assert {"KO", "AAPL"} <= watched
    assert "Held but not on your watchlist" not in client.get("/ledger/").text

    # the ledger's open quantities are the account's: 200 KO shares, 1 AAPL put short
    open_qty: dict[tuple[str, str], float] = defaultdict(float)
    for symbol, kind, qty in db_rows(
        stack, "SELECT symbol, kind, quantity FROM ledger_adjustment WHERE kind IN ('lot','option')"
    ):
        open_qty[(symbol, kind)] += float(qty)
    assert dict(open_qty) == {("KO", "lot"): 200.0, ("AAPL", "option"): 1.0}
    cycles = {
        (symbol, state): shares
        for symbol, state, shares in db_rows(
            stack, "SELECT symbol, state, shares FROM ledger_wheelcycle WHERE state != 'closed'"
        )
    }
    assert float(cycles[("KO", "shares")]) == 200.0
    assert ("AAPL", "short_put") in cycles
    client.close()
