"""A roll as ONE order on the real stack (web + worker + bridge + tws-sim at SIM_START, NATS):
the roll page offers only listed contracts, the preview's default net limit lies between the
combo's bid and ask it shows, confirming places one combo at IBKR, and the ledger counts one
roll from its two leg fills. The stack is this module's own: the roll changes the starting
book (the short AAPL put) other tests rely on."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from wheeldesk_testing.e2e import (
    confirm_form,
    form_values,
    login,
    preview_put_from_web,
    sim_orders,
    wait_until,
)
from wheeldesk_testing.moments import SIM_START
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.web_state import WebState

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def roll_stack() -> Iterator[Stack]:
    stack = Stack.start(worker=True)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def client(roll_stack: Stack) -> Iterator[httpx.Client]:
    c = login(roll_stack)
    yield c
    c.close()


def held_put(stack: Stack) -> dict:
    [p] = [
        p
        for p in stack.bridge_get("/v1/positions")
        if p["symbol"] == "AAPL" and p["sec_type"] == "OPT" and p["quantity"] < 0
    ]
    return p


def roll_query(p: dict) -> dict[str, str]:
    return {"symbol": "AAPL", "expiry": p["expiry"], "strike": f"{p['strike']:g}", "right": "P"}


def number(page: str, element_id: str) -> float:
    found = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert found, f"#{element_id} not on the page"
    text = html.unescape(found.group(1)).replace("−", "-").replace(",", "").replace("$", "")
    return float(text)


def offered_on_the_roll_page(stack: Stack, client: httpx.Client, held: dict) -> list[str]:
    """The contracts the roll page offers ("expiry|strike"), checked against the chain."""
    expiry = date.fromisoformat(held["expiry"])
    page = client.get("/orders/roll/", params=roll_query(held))
    assert page.status_code == 200, page.text[:500]
    offered = re.findall(r'name="target" value="([^"]+)"', page.text)
    assert offered, page.text[:1000]
    # Only what the chain lists: every offered contract is a listed later put.
    dte = (expiry - SIM_START.date()).days
    chain = stack.bridge_get(
        f"/v1/chains/AAPL?right=P&dte_min={dte + 1}&dte_max={dte + 70}&strikes=20"
    )
    listed = {f"{o['contract']['expiry']}|{o['contract']['strike']:g}" for o in chain["options"]}
    assert set(offered) <= listed
    assert all(date.fromisoformat(v.split("|")[0]) > expiry for v in offered)
    # The roll defaults to the contracts held (one) and shows each candidate's economics.
    assert re.search(r'id="roll-quantity" value="1"', page.text)
    assert "Net credit" in page.text and "New breakeven" in page.text and "APY" in page.text
    return offered


def checked_roll_preview(stack: Stack, client: httpx.Client, coid: str) -> float:
    """The roll's preview: its default net limit inside the combo's market, IB's what-if on
    both legs, one BAG row with its legs; returns the combo's ask."""
    preview = client.get(f"/orders/{coid}/")
    bid, ask = number(preview.text, "combo-bid"), number(preview.text, "combo-ask")
    found = re.search(r'id="id_limit_price" value="([^"]+)"', preview.text)
    assert found, preview.text[:1000]
    limit = float(found.group(1))
    assert bid <= limit <= ask  # the default net limit lies inside the combo's market
    assert number(preview.text, "suggested-limit") == pytest.approx(limit)
    assert number(preview.text, "preview-commission") == pytest.approx(2.0)  # two legs
    draft = WebState(stack).order(coid)
    assert draft is not None
    sec_type, legs = draft["sec_type"], json.dumps(draft["legs"])
    assert sec_type == "BAG" and '"BUY"' in legs and '"SELL"' in legs
    return ask


def assert_one_roll_in_the_ledger(stack: Stack) -> None:
    """Both legs reached the ledger, counted as one roll of the AAPL put cycle."""
    web = WebState(stack)
    wait_until(
        lambda: (
            len([e for e in web.executions() if (e["symbol"], e["sec_type"]) == ("AAPL", "OPT")])
            >= 2
        ),
        what="both leg executions in the ledger",
    )
    rolls = wait_until(
        lambda: sum(c["rolls"] for c in web.cycles() if c["symbol"] == "AAPL"),
        what="a roll in the AAPL cycle",
    )
    assert rolls == 1


def test_roll_the_short_put_as_one_combo_order_and_see_one_roll(
    roll_stack: Stack, client: httpx.Client
) -> None:
    held = held_put(roll_stack)
    offered = offered_on_the_roll_page(roll_stack, client, held)
    web = WebState(roll_stack)
    orders_before = len(web.orders())
    token = client.cookies["csrftoken"]
    # An unlisted strike (between the chain's strikes) cannot be rolled to: nothing drafted.
    later = sorted(v for v in offered if v.endswith(f"|{held['strike']:g}"))
    assert later, f"the held strike {held['strike']:g} is listed at a later expiry: {offered}"
    new_expiry = later[0].split("|")[0]
    junk = client.post(
        "/orders/roll/",
        data={
            **roll_query(held),
            "csrfmiddlewaretoken": token,
            "quantity": "1",
            "target": f"{new_expiry}|{held['strike'] + 0.5:g}",
        },
    )
    assert junk.status_code == 200
    assert "is not listed" in html.unescape(junk.text)
    assert len(web.orders()) == orders_before

    # The listed later expiry at the same strike: one combo draft, previewed by IB's what-if.
    prepared = client.post(
        "/orders/roll/",
        data={
            **roll_query(held),
            "csrfmiddlewaretoken": token,
            "quantity": "1",
            "target": later[0],
        },
    )
    assert prepared.status_code == 302, prepared.text[:500]
    coid = prepared.headers["location"].rstrip("/").split("/")[-1]
    ask = checked_roll_preview(roll_stack, client, coid)

    # A marketable net (the combo's ask, a cent over for a moving quote), then confirm once.
    updated = client.post(
        f"/orders/{coid}/update/",
        data={"csrfmiddlewaretoken": token, "quantity": "1", "limit_price": f"{ask + 0.01:.2f}"},
    )
    assert updated.status_code == 302
    confirmed = client.post(
        f"/orders/{coid}/confirm/",
        data=form_values(client.get(f"/orders/{coid}/").text, "confirm-form"),
        timeout=120,
    )
    assert confirmed.status_code == 302, confirmed.text[:500]
    wait_until(
        lambda: web.order_status(coid) == "filled",
        what="the roll filled in the web",
    )
    [sim] = sim_orders(roll_stack, coid)  # ONE order at IBKR
    assert sim["sec_type"] == "BAG" and sim["status"] == "Filled"
    assert_one_roll_in_the_ledger(roll_stack)
    # The book: the old put closed, the later one short.
    opts = {
        (p["expiry"], p["strike"]): p["quantity"]
        for p in roll_stack.bridge_get("/v1/positions")
        if p["sec_type"] == "OPT" and p["symbol"] == "AAPL"
    }
    assert opts == {(new_expiry, held["strike"]): -1}


def test_reprice_a_working_order_one_step_is_a_modify_in_its_history(
    roll_stack: Stack, client: httpx.Client
) -> None:
    """After the roll (the fill mode then stops fills): a put sold at its bid rests; one click
    re-prices it 0.05 toward the bid as IB's modify of the same order, shown and audited."""
    httpx.post(f"{roll_stack.control_url}/control/fill-mode", json={"mode": "never"}, timeout=10)
    try:
        coid, bid = preview_put_from_web(client, roll_stack, "AAPL")
        confirmed = client.post(
            f"/orders/{coid}/confirm/", data=confirm_form(client, coid), timeout=120
        )
        assert confirmed.status_code == 302, confirmed.text[:500]
        wait_until(
            lambda: WebState(roll_stack).order_status(coid) == "submitted",
            what="the order working",
        )
        page = client.get(f"/orders/{coid}/").text
        form = form_values(page, "reprice-form")
        assert form.get("step") == "0.05", page[:1000]
        r = client.post(f"/orders/{coid}/reprice/", data=form)
        assert r.status_code == 302
        new = round(bid - 0.05, 2)
        [sim] = sim_orders(roll_stack, coid)  # still ONE order at IBKR, at the new price
        assert sim["lmt_price"] == pytest.approx(new)
        repriced = WebState(roll_stack).order(coid)
        assert repriced is not None
        limit = repriced["limit_price"]
        assert float(limit) == pytest.approx(new)
        shown = html.unescape(client.get(f"/orders/{coid}/").text)
        assert f"re-priced {bid:.2f} → {new:.2f}" in shown
        audits = WebState(roll_stack).order_audits(coid, "modify")
        assert len(audits) == 1
    finally:
        httpx.post(
            f"{roll_stack.control_url}/control/fill-mode", json={"mode": "cross"}, timeout=10
        )


def test_close_of_two_contracts_defaults_to_two_at_a_limit_inside_the_quote(
    roll_stack: Stack, client: httpx.Client
) -> None:
    """After the roll: sell one more of the rolled-to put (two short), then the orders page's
    "Buy to close" prepares a close of 2 whose default limit (the bridge's) lies between the
    bid and the ask the preview shows."""
    shorts = [
        p
        for p in roll_stack.bridge_get("/v1/positions")
        if p["symbol"] == "AAPL" and p["sec_type"] == "OPT" and p["quantity"] == -1
    ]
    short = max(shorts, key=lambda p: p["expiry"])  # the rolled-to put
    dte = (date.fromisoformat(short["expiry"]) - SIM_START.date()).days
    chain = roll_stack.bridge_get(
        f"/v1/chains/AAPL?right=P&dte_min={dte - 1}&dte_max={dte + 1}&strikes=20"
    )
    [q] = [
        o
        for o in chain["options"]
        if o["contract"]["expiry"] == short["expiry"] and o["contract"]["strike"] == short["strike"]
    ]
    token = client.cookies["csrftoken"]
    sold = client.post(
        "/orders/new/",
        data={
            "csrfmiddlewaretoken": token,
            "symbol": "AAPL",
            "expiry": short["expiry"],
            "strike": f"{short['strike']:g}",
            "right": "P",
            "action": "SELL",
            "quantity": 1,
            "limit_price": f"{q['bid']:.2f}",
        },
    )
    coid = sold.headers["location"].rstrip("/").split("/")[-1]
    confirmed = client.post(
        f"/orders/{coid}/confirm/",
        data=form_values(client.get(f"/orders/{coid}/").text, "confirm-form"),
        timeout=120,
    )
    assert confirmed.status_code == 302
    wait_until(
        lambda: any(
            p["conid"] == short["conid"] and p["quantity"] == -2
            for p in roll_stack.bridge_get("/v1/positions")
        ),
        what="two short puts",
    )
    listing = html.unescape(client.get("/orders/").text)
    links = re.findall(r'href="(/orders/close/\?[^"]+)"[^>]*>Buy to close', listing)
    [link] = [x for x in links if f"expiry={short['expiry']}" in x]
    assert "quantity=2" in link
    page = client.get(link)
    assert page.status_code == 200
    form = form_values(page.text, "prepare-form")
    assert form["action"] == "BUY" and form["quantity"] == "2"
    prepared = client.post("/orders/new/", data=form)
    assert prepared.status_code == 302, prepared.text[:500]
    close_coid = prepared.headers["location"].rstrip("/").split("/")[-1]
    preview = html.unescape(client.get(f"/orders/{close_coid}/").text)
    quote = re.search(r"Bid / mid / ask</dt><dd>([^<]*)</dd>", preview)
    assert quote, preview[:2000]
    bid, _mid, ask = (float(x) for x in quote.group(1).split(" / "))
    limit = float(re.search(r'id="id_limit_price" value="([^"]+)"', preview).group(1))  # type: ignore[union-attr]
    assert bid <= limit <= ask
    closing = WebState(roll_stack).order(close_coid)
    assert closing is not None
    quantity, action = closing["quantity"], closing["action"]
    assert (quantity, action) == (2, "BUY")
