"""Every URL is behind the login, except the few that must not be (found by walking the URLconf)."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

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
SAMPLES = {
    "int": "1",
    "str": "KO",
    "slug": "x",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "path": "x/y",
}


def _route_text(pattern: object) -> str:
    if isinstance(pattern, RoutePattern):
        text = str(pattern)
        return re.sub(
            r"<(?:(\w+):)?(\w+)>",
            lambda m: SAMPLES.get(m.group(1) or "str", "x"),
            text,
        )
    if isinstance(pattern, RegexPattern):
        text = pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")

        def group(m: re.Match[str]) -> str:
            body = m.group(2)
            return body.split("|")[0] if "|" in body else "1"

        text = re.sub(r"\(\?P<(\w+)>([^)]*)\)", group, text)
        return text.replace("\\", "")
    raise AssertionError(f"unknown pattern type {pattern!r}")


def all_urls() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, prefix + _route_text(p.pattern), ns)
            elif isinstance(p, URLPattern):
                found.append((f"{namespace}{p.name or '?'}", "/" + prefix + _route_text(p.pattern)))

    walk(get_resolver().url_patterns, "", "")
    return found


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
