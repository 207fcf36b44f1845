"""Django's own mail (password reset) goes through the notifier, on the whole stack."""

from __future__ import annotations

import re
import time

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_password_reset_mail_goes_through_the_notifier(stack) -> None:  # type: ignore[no-untyped-def]
    web = httpx.Client(base_url=stack.web_url, timeout=30)
    web.get("/accounts/password_reset/")
    response = web.post(
        "/accounts/password_reset/",
        data={"email": "demo@example.com", "csrfmiddlewaretoken": web.cookies["csrftoken"]},
        headers={"Referer": f"{stack.web_url}/accounts/password_reset/"},
    )
    assert response.status_code == 302 and response.headers["location"].endswith("/done/")
    deadline = time.monotonic() + 30
    bodies: list[str] = []
    while time.monotonic() < deadline and not bodies:
        if stack.outbox_dir.exists():
            bodies = [p.read_text() for p in stack.outbox_dir.glob("*.txt")]
            bodies = [b for b in bodies if "/accounts/reset/" in b]
        time.sleep(0.2)
    assert bodies, "no reset mail reached the notifier's outbox"
    link = re.search(r"http://\S+/accounts/reset/\S+/", bodies[-1])
    assert link is not None
    # Opening the link shows the "choose a new password" form (not submitted: shared stack).
    page = httpx.get(link.group(0), follow_redirects=True, timeout=30)
    assert page.status_code == 200 and "Choose a new password" in page.text
