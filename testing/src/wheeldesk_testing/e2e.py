"""Helpers shared by the whole-system tests: a logged-in web session, NATS one-shots, waits."""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from html.parser import HTMLParser
from typing import Any

import httpx
import nats

from wheeldesk_testing.procs import Proc
from wheeldesk_testing.stack import MANAGE, Stack
from wheeldesk_testing.waits import wait_until as wait_until  # the one owner; re-exported

# A Saturday: a worker pretending it is now only consumes NATS and sends its outbox (no
# scheduled sync or scan that would also bring orders and fills up to date).
MARKET_CLOSED = "2026-11-28T15:00:00+00:00"


def login(stack: Stack) -> httpx.Client:
    """A web session logged in as the demo user (CSRF cookie + token, as a browser does)."""
    client = httpx.Client(base_url=stack.web_url, timeout=30, follow_redirects=False)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"]
    response = client.post(
        "/accounts/login/",
        data={"username": stack.username, "password": stack.password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{stack.web_url}/accounts/login/"},
    )
    assert response.status_code == 302, response.text[:500]
    return client


def anonymous(stack: Stack) -> httpx.Client:
    """A web session not logged in, holding the CSRF cookie a browser gets from the login page."""
    client = httpx.Client(base_url=stack.web_url, timeout=60, follow_redirects=False)
    client.get("/accounts/login/")
    return client


def request_password_reset(stack: Stack, email: str) -> httpx.Response:
    """Ask the web for a password reset mail, as the "Forgot your password?" form does."""
    client = anonymous(stack)
    try:
        return client.post(
            "/accounts/password_reset/",
            data={"email": email, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        )
    finally:
        client.close()


class _FormValues(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
            return
        name = a.get("name")
        if not self.inside or (not name and tag != "option"):
            return
        if tag == "input" and name:
            kind = a.get("type") or "text"
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values[name] = a.get("value") or "on"
            elif kind not in ("submit", "button", "reset"):
                self.values[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def form_values(html: str, form_id: str) -> dict[str, str]:
    """What a browser would submit from the form `id=form_id` as rendered (checked boxes only)."""
    parser = _FormValues(form_id)
    parser.feed(html)
    return parser.values


def publish_raw(nats_url: str, items: list[tuple[str, bytes]], *, jetstream: bool = False) -> None:
    """Publish raw payloads (garbage included) as another process on the bus would."""

    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            for subject, data in items:
                if jetstream:
                    await js.publish(subject, data)
                else:
                    await nc.publish(subject, data)
            await nc.flush()
        finally:
            await nc.close()

    asyncio.run(go())


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


class SSEReader:
    """Reads a logged-in SSE stream on a thread, keeping every data line it sees."""

    def __init__(self, client: httpx.Client, path: str, params: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.status: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(client, path, params), daemon=True)
        self._thread.start()

    def _run(self, client: httpx.Client, path: str, params: dict[str, str]) -> None:
        try:
            with client.stream("GET", path, params=params, timeout=120) as stream:
                self.status = stream.status_code
                for line in stream.iter_lines():
                    self.lines.append(line)
                    if self._stop.is_set():
                        return
        except httpx.HTTPError:
            return

    def seen(self, needle: str) -> bool:
        return any(needle in line for line in list(self.lines))

    def close(self) -> None:
        self._stop.set()


def start_worker(stack: Stack, *args: str) -> Proc:
    """`manage.py worker` on the stack's database (its NATS consumers included); stop it after."""
    worker = Proc("worker-e2e", [sys.executable, str(MANAGE), "worker", *args], env=stack.web.env)
    worker.log_dir = stack.workdir
    worker.log_path = stack.workdir / "worker-e2e.log"
    return worker.start(wait=False)


def listed_put(stack: Stack, symbol: str) -> tuple[str, float, float]:
    """A put of `symbol` below the underlying, 20-60 days out, with a bid: (expiry, strike, bid)."""
    chain = stack.bridge_get(f"/v1/chains/{symbol}?right=P&dte_min=20&dte_max=60")
    spot = chain["underlying"].get("last") or chain["underlying"].get("close")
    quotes = [
        q
        for q in chain["options"]
        if q.get("bid") and (spot is None or q["contract"]["strike"] < spot)
    ]
    assert quotes, f"no put with a bid in {symbol}'s chain"
    q = max(quotes, key=lambda q: q["contract"]["strike"])
    return q["contract"]["expiry"], q["contract"]["strike"], q["bid"]


def sim_orders(stack: Stack, client_order_id: str | None = None) -> list[dict[str, Any]]:
    """tws-sim's own order book (IBKR's view), optionally only one client order id."""
    orders = httpx.get(f"{stack.control_url}/state/orders", timeout=10).json()
    return [o for o in orders if client_order_id in (None, o.get("order_ref"))]


def preview_put_from_web(client: httpx.Client, stack: Stack, symbol: str) -> tuple[str, float]:
    """Preview one short put through the web at its bid, as a user does: (client order id, bid)."""
    expiry, strike, bid = listed_put(stack, symbol)
    preview = client.post(
        "/orders/new/",
        data={
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
            "symbol": symbol,
            "expiry": expiry,
            "strike": strike,
            "right": "P",
            "action": "SELL",
            "quantity": 1,
            "limit_price": f"{bid:.2f}",
        },
        follow_redirects=True,
    )
    assert preview.status_code == 200, preview.text[:500]
    found = re.search(r'id="client-order-id">([^<]+)<', preview.text)
    assert found, preview.text[:500]
    return found.group(1), bid


def confirm_form(client: httpx.Client, coid: str) -> dict[str, str]:
    """What the preview page's confirm button sends: the CSRF token and the fingerprint of the
    ticket shown (the web refuses a confirm of a ticket the user did not see previewed)."""
    page = client.get(f"/orders/{coid}/", timeout=60)
    return form_values(page.text, "confirm-form")


def sell_put_from_web(client: httpx.Client, stack: Stack, symbol: str) -> str:
    """Preview and confirm one short put through the web, as a user does; its client order id."""
    coid, _ = preview_put_from_web(client, stack, symbol)
    confirmed = client.post(
        f"/orders/{coid}/confirm/", data=confirm_form(client, coid), timeout=120
    )
    assert confirmed.status_code == 302, confirmed.text[:500]
    return coid
