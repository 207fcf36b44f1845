"""docs/design.md lists every HTTP route of the bridge, the screener and the notifier, and no
route that is not there; and every NATS subject, stream and bucket `wheeldesk.subjects` spells.

The design page is what a newcomer reads instead of the code; an endpoint added without its
row, or a row left behind by a removed one, makes it lie. The routes come from the FastAPI apps
themselves (their OpenAPI schemas, built with the default demo settings, nothing started); the page's come from every
`METHOD /v1/...` it mentions. Path parameters compare by position, not name
(`/v1/orders/{id}` is `/v1/orders/{order_id}`).
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from repo_tree import ROOT

DESIGN = ROOT / "docs" / "design.md"
MENTION = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/v1/[A-Za-z0-9_{}/.-]*)")
PARAMETER = re.compile(r"\{[^}]*\}")


def normalise(method: str, path: str) -> str:
    return f"{method} {PARAMETER.sub('{}', path.rstrip('/.'))}"


def apps() -> dict[str, FastAPI]:
    from gateway_bridge.app import build_app as bridge_app
    from gateway_bridge.settings import BridgeSettings
    from notifier.app import build_app as notifier_app
    from notifier.settings import NotifierSettings
    from screener.app import build_app as screener_app
    from screener.settings import ScreenerSettings

    return {
        "gateway-bridge": bridge_app(BridgeSettings()),
        "screener": screener_app(ScreenerSettings()),
        "notifier": notifier_app(NotifierSettings()),
    }


def served() -> dict[str, str]:
    """`METHOD /v1/path` -> the service that serves it (from each app's OpenAPI schema)."""
    routes = {}
    for service, app in apps().items():
        for path, operations in app.openapi()["paths"].items():
            if path.startswith("/v1/"):
                for method in operations.keys() & {"get", "post", "put", "patch", "delete"}:
                    routes[normalise(method.upper(), path)] = service
    return routes


def documented(text: str | None = None) -> set[str]:
    text = DESIGN.read_text(encoding="utf-8") if text is None else text
    return {normalise(m.group(1), m.group(2)) for m in MENTION.finditer(text)}


def test_every_route_a_service_serves_is_on_the_design_page() -> None:
    routes = served()
    assert len(routes) >= 20  # the apps were really built (the bridge alone has ~20)
    missing = sorted(
        f"{route} ({service})" for route, service in routes.items() if route not in documented()
    )
    assert missing == [], "add these routes to docs/design.md's HTTP APIs"


def test_every_route_on_the_design_page_is_served() -> None:
    stale = sorted(documented() - set(served()))
    assert stale == [], "docs/design.md names routes no service serves"


def test_the_page_is_read_the_way_it_is_written() -> None:
    """Routes in table cells, lists, prose and with a query string all count, params by position."""
    text = (
        "| `GET /v1/orders`, `DELETE /v1/orders/{id}` | list, cancel |\n"
        "reports it in `GET /v1/status`; `GET /v1/quotes?symbols=A,B` and POST /v1/scans.\n"
    )
    assert documented(text) == {
        "GET /v1/orders",
        "DELETE /v1/orders/{}",
        "GET /v1/status",
        "GET /v1/quotes",
        "POST /v1/scans",
    }
    assert normalise("GET", "/v1/orders/{order_id}") == normalise("GET", "/v1/orders/{id}")


def test_every_nats_subject_stream_and_bucket_is_on_the_design_page() -> None:
    """Subjects as the page writes them (`ibkr.order.<order_id>`), streams and buckets by name."""
    from wheeldesk import subjects

    names = {
        name: value
        for name, value in vars(subjects).items()
        if name.isupper() and isinstance(value, str)
    }
    assert "QUOTE_PREFIX" in names and "STREAM_IBKR" in names
    text = DESIGN.read_text(encoding="utf-8")
    missing = sorted(
        f"{name} = {value!r}"
        for name, value in names.items()
        if not re.search(rf"`{re.escape(value)}(\.<[^>]+>)?`", text)
    )
    assert missing == [], "add these to docs/design.md's NATS section"
