"""Every URL of the web, found by walking its URLconf, with sample values in the path.

One walker for the access tests (every page needs a login) and the CSRF test (every POST
needs the token): a URL added later is in both lists without anyone listing it. Import
only where Django is configured (the web's tests, the whole-system suite).
"""

from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

# A value for each path converter; the URL resolves, whether or not such a row exists.
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
    """(namespaced URL name, a concrete path) for every pattern in the web's URLconf."""
    found: list[tuple[str, str]] = []

    def walk(patterns: list, prefix: str, namespace: str) -> None:  # type: ignore[type-arg]
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, prefix + _route_text(p.pattern), ns)
            elif isinstance(p, URLPattern):
                found.append((f"{namespace}{p.name or '?'}", "/" + prefix + _route_text(p.pattern)))

    walk(get_resolver().url_patterns, "", "")
    return found
