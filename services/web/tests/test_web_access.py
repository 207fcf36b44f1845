"""Every URL is behind the login, except the few that must not be (found by walking the URLconf)."""

from __future__ import annotations

import pytest
from django.urls import resolve
from wheeldesk_testing.urlconf import all_urls

pytestmark = pytest.mark.django_db

# URL names an anonymous visitor may open.
PUBLIC = {
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "healthz",
    "readyz",
    "admin:login",
    "admin:logout",
}
URLS = all_urls()


def test_the_walk_finds_every_app() -> None:
    names = {name for name, _ in URLS}
    for expected in ("dashboard", "signals:list", "watchlist:index", "market:chain", "live:stream"):
        assert expected in names
    assert len(URLS) > 40


@pytest.mark.parametrize(("name", "path"), URLS, ids=[n for n, _ in URLS])
def test_anonymous_is_sent_to_login(client, name: str, path: str) -> None:
    assert resolve(path) is not None  # the sample path really is this URL
    response = client.get(path)
    if name in PUBLIC:
        assert response.status_code < 500
        return
    assert response.status_code == 302, f"{name} ({path}) answered {response.status_code}"
    location = response["Location"]
    if name.startswith("admin:"):
        assert location.startswith(("/admin/login/", "/accounts/login/?next=")), location
    else:
        assert location.startswith("/accounts/login/?next="), location
