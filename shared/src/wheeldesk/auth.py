"""The internal bearer-token check every service-to-service call passes."""

from __future__ import annotations

import hmac

from fastapi import Request

from wheeldesk.errors import ServiceError

OPEN_PATHS = frozenset({"/healthz", "/readyz"})


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
