"""A new user's first morning: the ledger starts from the account, not empty.

Real processes over sockets (nats-server, tws-sim driven by ib_insync through the bridge,
the screener, the web): a stack of its own, so the sync below is the account's first one
whoever else ran before. tws-sim's demo book is 200 KO and one short AAPL put.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from wheeldesk_testing.e2e import form_values, login
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.web_state import WebState

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
    web = WebState(stack)
    watched = set(web.watched_symbols())
    assert {"KO", "AAPL"} <= watched
    assert "Held but not on your watchlist" not in client.get("/ledger/").text

    # the ledger's open quantities are the account's: 200 KO shares, 1 AAPL put short
    open_qty: dict[tuple[str, str], float] = defaultdict(float)
    for a in web.adjustments():
        if a["kind"] in ("lot", "option"):
            open_qty[(a["symbol"], a["kind"])] += float(a["quantity"])
    assert dict(open_qty) == {("KO", "lot"): 200.0, ("AAPL", "option"): 1.0}
    cycles = {
        (c["symbol"], c["state"]): c["shares"] for c in web.cycles() if c["state"] != "closed"
    }
    assert float(cycles[("KO", "shares")]) == 200.0
    assert ("AAPL", "short_put") in cycles
    client.close()


def _order(client, stack: Stack, data: dict[str, object]) -> str:  # type: ignore[no-untyped-def]
    """Draft (from a signal or a contract), confirm as previewed, then bring it up to date
    the way the worker's sync pass does (`orders.services.refresh`). The order's id."""
    token = client.cookies["csrftoken"]
    r = client.post("/orders/new/", data={**data, "csrfmiddlewaretoken": token})
    assert r.status_code == 302, r.text[:500]
    coid = r.headers["location"].rstrip("/").split("/")[-1]
    page = client.get(f"/orders/{coid}/").text
    ticket = re.search(r'name="ticket" value="([0-9a-f]*)"', page)
    assert ticket, _text(page)[:1500]
    r = client.post(
        f"/orders/{coid}/confirm/", data={"csrfmiddlewaretoken": token, "ticket": ticket.group(1)}
    )
    assert r.status_code == 302, r.text[:500]
    WebState(stack).refresh_working_orders()
    return coid


def _latest_scan(stack: Stack) -> dict:
    return WebState(stack).latest_scan()


def test_signals_follow_fills_and_covered_shares_get_no_new_call(fresh_stack: Stack) -> None:
    stack = fresh_stack
    stack.control("/control/fill-mode", {"mode": "immediate"})
    client = login(stack)
    # covered calls on their own criteria (Settings): KO's calls pay less than the puts' 10 %
    form = form_values(client.get("/settings/").text, "settings-form")
    form.update(cc_delta_min="0.10", cc_delta_max="0.45", cc_min_apy="1")
    r = client.post("/settings/", data=form)
    assert r.status_code == 302, _text(r.text)[:1500]
    out = stack.manage("scan", "--symbols", "KO,PEP,JNJ", check=False)
    assert out.returncode == 0, out.stderr
    scan = _latest_scan(stack)
    # 200 KO, no call short: every KO covered call is for 2 contracts
    ko_calls = [s for s in scan["signals"] if (s["kind"], s["symbol"]) == ("CC", "KO")]
    calls = [s["quantity"] for s in ko_calls]
    why = [
        (r["rule"], r["message"])
        for r in scan["rejections"]
        if r["symbol"] == "KO" and r["message"].startswith("CC:")
    ][:5]
    assert calls and set(calls) == {2}, (calls, why)
    # a put signal ordered and filled: the signal says "filled"
    put_id = next(
        s["id"]
        for s in scan["signals"]  # best score first
        if s["kind"] == "CSP" and s["symbol"] not in ("KO", "AAPL")
    )
    coid = _order(client, stack, {"signal": put_id})
    web = WebState(stack)
    assert web.order_status(coid) == "filled"
    assert web.signal_status(put_id) == "filled"
    page = client.get("/signals/").text
    row = re.search(rf'data-signal="{put_id}".*?data-cell="status"[^>]*>([^<]*)<', page, re.S)
    assert row and row.group(1).strip() == "filled"

    # cover the 200 shares: sell 2 KO calls (the best CC signal's contract, 2 contracts)
    cc_id = ko_calls[0]["id"]  # best score first
    coid = _order(client, stack, {"signal": cc_id})
    covered = web.order(coid)
    assert covered and (covered["status"], covered["quantity"], covered["right"]) == (
        "filled",
        2,
        "C",
    )
    calls_held = [
        p
        for p in stack.bridge_get("/v1/positions")
        if p["symbol"] == "KO" and p["sec_type"] == "OPT" and p["right"] == "C"
    ]
    assert sum(p["quantity"] for p in calls_held) == -2

    # the next scan proposes no covered call on them, and says why
    out = stack.manage("scan", "--symbols", "KO", check=False)
    assert out.returncode == 0, out.stderr
    scan = _latest_scan(stack)
    assert [s for s in scan["signals"] if s["kind"] == "CC"] == []
    assert [r["message"] for r in scan["rejections"] if r["rule"] == "covered"] == [
        "CC: all 200 shares are covered by the 2 short calls held: no new covered call"
    ]
    client.close()
