"""The internal perimeter every service-to-service call passes: the bearer token, the Host
allow-list (DNS rebinding) and the API documentation behind the token."""

from __future__ import annotations

import hmac

from fastapi import Request

from wheeldesk.errors import ServiceError

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
DOC_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def host_name(header: str | None) -> str:
    """The name part of a Host header, lower-case: `127.0.0.1:8001` -> `127.0.0.1`,
    `[::1]:8001` -> `::1`. An empty or missing header gives ""."""
    value = (header or "").strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def token_ok(header: str | None, token: str) -> bool:
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].encode(), token.encode())


def require_token(token: str):
    """FastAPI dependency factory: 401 unless `Authorization: Bearer <token>` matches."""

    async def dependency(request: Request) -> None:
        if request.url.path in OPEN_PATHS:
            return
        if not token_ok(request.headers.get("authorization"), token):
            raise ServiceError(401, "unauthorized", "missing or invalid bearer token")

    return dependency
