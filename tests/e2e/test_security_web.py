"""Issue 17's attacks on the web, against the real stack (web + bridge + tws-sim over sockets).

Each attack must fail: a confirm after an unpreviewed quantity change, a second user reading
or confirming the first one's draft or changing the trading settings, 40 wrong passwords,
10 anonymous password resets, and a confirm while IB Gateway restarts (the order is "not sent",
nothing reaches tws-sim, and the retry once the Gateway is back places it exactly once).

A stack of this module's own: locking out a login and spending the reset quota of 127.0.0.1
must not change what other tests see.
"""

from __future__ import annotations

import html

import httpx
import pytest
from wheeldesk_testing.e2e import (
    confirm_form,
    login,
    preview_put_from_web,
    ready,
    sim_orders,
    wait_until,
)
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.web_state import WebState

pytestmark = pytest.mark.slow

BOB = ("bob", "bob-password-0123456789")


@pytest.fixture(scope="module")
def system():  # type: ignore[no-untyped-def]
    stack = Stack.start()
    # A second user: a trader, not staff.
    WebState(stack).create_user(BOB[0], "bob@example.com", BOB[1], permissions=("trade",))
    yield stack
    stack.stop()


def sign_in(stack: Stack, username: str, password: str) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=stack.web_url, timeout=60, follow_redirects=False)
    client.get("/accounts/login/")
    answer = client.post(
        "/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    return client, answer


def status_of(stack: Stack, coid: str) -> str:
    return WebState(stack).order_status(coid)


def test_confirm_after_an_unpreviewed_update_is_refused(system: Stack) -> None:
    client = login(system)
    coid, bid = preview_put_from_web(client, system, "KO")
    seen = confirm_form(client, coid)  # the confirm button of the 1-contract preview
    client.post(
        f"/orders/{coid}/update/",
        data={
            "quantity": 5,
            "limit_price": f"{bid:.2f}",
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
        timeout=120,
    )
    answer = client.post(f"/orders/{coid}/confirm/", data=seen, timeout=120)
    assert answer.status_code == 302
    page = html.unescape(client.get(answer.headers["location"]).text)
    assert "the order changed since the preview you confirmed" in page
    assert status_of(system, coid) == "previewed"
    assert sim_orders(system, coid) == []
    client.close()


def test_a_second_user_cannot_open_confirm_or_change_settings(system: Stack) -> None:
    owner = login(system)
    coid, _ = preview_put_from_web(owner, system, "PEP")
    bob, answer = sign_in(system, *BOB)
    assert answer.status_code == 302
    token = {"csrfmiddlewaretoken": bob.cookies["csrftoken"]}
    assert bob.get(f"/orders/{coid}/").status_code == 404
    assert bob.get(f"/orders/{coid}/status/").status_code == 404
    assert bob.post(f"/orders/{coid}/update/", data={**token, "quantity": 7}).status_code == 404
    assert bob.post(f"/orders/{coid}/confirm/", data=token).status_code == 404
    assert bob.get("/orders/settings/").status_code == 403
    refused = bob.post("/orders/settings/", data={**token, "max_contracts": 999})
    assert refused.status_code == 403
    draft = WebState(system).order(coid)
    assert draft and (draft["quantity"], draft["status"]) == (1, "previewed")
    assert sim_orders(system, coid) == []
    # the owner's list shows no draft of anyone; bob's list does not show the owner's draft
    assert coid not in bob.get("/orders/").text
    owner.close()
    bob.close()


def test_forty_wrong_passwords_lock_out_and_ten_resets_are_throttled(system: Stack) -> None:
    answers = [sign_in(system, BOB[0], f"wrong-{i}") for i in range(40)]
    codes = [a.status_code for _, a in answers]
    for c, _ in answers:
        c.close()
    assert codes[:9] == [200] * 9 and set(codes[9:]) == {429}
    client, right = sign_in(system, *BOB)
    assert right.status_code == 429
    assert "signing in from this address is locked for 15 minutes" in html.unescape(right.text)
    client.close()
    anonymous = httpx.Client(base_url=system.web_url, timeout=60, follow_redirects=False)
    anonymous.get("/accounts/login/")
    resets = [
        anonymous.post(
            "/accounts/password_reset/",
            data={
                "email": "bob@example.com",
                "csrfmiddlewaretoken": anonymous.cookies["csrftoken"],
            },
        )
        for _ in range(10)
    ]
    codes = [r.status_code for r in resets]
    assert codes == [302] * 5 + [429] * 5, codes
    assert "No email was sent for this request." in resets[-1].text
    anonymous.close()


def test_confirm_while_the_gateway_restarts_is_not_sent_and_the_retry_places_it_once(
    system: Stack,
) -> None:
    system.control("/control/fill-mode", {"mode": "never"})
    client = login(system)
    coid, _ = preview_put_from_web(client, system, "JNJ")
    form = confirm_form(client, coid)
    system.control("/control/restart", {"down_seconds": 30})
    try:
        wait_until(lambda: not ready(system.bridge_url), 30, "the bridge to lose IBKR")
        answer = client.post(f"/orders/{coid}/confirm/", data=form, timeout=120)
        assert answer.status_code == 302
        page = html.unescape(client.get(answer.headers["location"]).text)
        assert status_of(system, coid) == "not_sent", page[:2000]
        assert "Not sent — IBKR disconnected" in page and 'id="confirm-order"' in page
        assert sim_orders(system, coid) == []
    finally:
        wait_until(lambda: ready(system.bridge_url), 180, "the bridge back")
    retry = client.post(f"/orders/{coid}/confirm/", data=confirm_form(client, coid), timeout=120)
    assert retry.status_code == 302
    assert status_of(system, coid) in {"pending", "submitted"}
    assert len(sim_orders(system, coid)) == 1
    client.close()
