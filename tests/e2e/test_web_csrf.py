"""Every POST to the web needs the CSRF token, for every URL the URLconf has.

The list of URLs is the web's own URLconf walked (`wheeldesk_testing.urlconf`), so a URL
added later is tried too. A logged-in session (holding its CSRF cookie, as a browser does)
POSTs to each without the token, then with a wrong one: each answers 403 from the CSRF check,
the session is still logged in, and no row of the database changed.

Runs on the fault stack. Cost: about 5 s (some 400 requests).
"""

from __future__ import annotations

import httpx
import pytest
from wheeldesk_testing.e2e import login
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.urlconf import all_urls

pytestmark = pytest.mark.slow

# A form a browser could send to any of them: the CSRF check must refuse before the view reads it.
FORM = {"symbol": "KO", "notes": "csrf", "quantity": "1", "name": "csrf", "email": "x@example.com"}


def _snapshot(stack: Stack) -> str:
    """Every row of every model, as the web's own `dumpdata` writes them."""
    return stack.manage("dumpdata", "--indent", "0").stdout


def test_every_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    fault_stack: Stack,
) -> None:
    stack = fault_stack
    urls = all_urls()
    assert len(urls) > 40 and any(name == "orders:confirm" for name, _ in urls)
    client = login(stack)
    try:
        token = client.cookies["csrftoken"]
        assert client.get("/watchlist/").status_code == 200  # the user has a watchlist (pk 1)
        before = _snapshot(stack)
        refused: list[str] = []
        let_through: list[str] = []
        for name, path in urls:
            for label, data, headers in (
                ("no token", FORM, {}),
                ("wrong token", {**FORM, "csrfmiddlewaretoken": "x" * 64}, {}),
                ("wrong header", FORM, {"X-CSRFToken": "y" * 64, "HX-Request": "true"}),
            ):
                answer = client.post(path, data=data, headers=headers)
                if answer.status_code == 403 and "CSRF verification failed" in answer.text:
                    refused.append(path)
                else:
                    let_through.append(f"{name} {path} ({label}): {answer.status_code}")
        assert not let_through, "POSTs not refused by the CSRF check:\n" + "\n".join(let_through)
        assert len(refused) == 3 * len(urls)
        # Nothing changed, and the session survived (the logout URL was POSTed too).
        assert _snapshot(stack) == before
        assert client.get("/dashboard/").status_code == 200
        # The refusals came from the CSRF check: the same session with its token is let in.
        allowed = client.post("/settings/", data={"csrfmiddlewaretoken": token})
        assert allowed.status_code == 400 and "Settings not saved" in allowed.text
    finally:
        client.close()


def test_a_post_without_the_csrf_cookie_is_refused_too(fault_stack: Stack) -> None:
    """A forged cross-site form carries the session cookie but not the CSRF cookie's pair."""
    client = login(fault_stack)
    try:
        session = client.cookies["sessionid"]
        token = client.cookies["csrftoken"]
        with httpx.Client(base_url=fault_stack.web_url, timeout=30) as forged:
            forged.cookies.set("sessionid", session)
            answer = forged.post(
                "/watchlist/1/add/", data={"symbol": "PEP", "csrfmiddlewaretoken": token}
            )
        assert answer.status_code == 403 and "CSRF verification failed" in answer.text
    finally:
        client.close()
