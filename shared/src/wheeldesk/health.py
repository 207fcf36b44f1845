"""`/healthz` (liveness: the process answers) and `/readyz` (readiness, with the reason)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

# A readiness check returns None when ready, or the reason it is not.
ReadinessCheck = Callable[[], Awaitable[str | None] | str | None]


def health_router(service: str, checks: dict[str, ReadinessCheck] | None = None) -> APIRouter:
    router = APIRouter(tags=["health"])
    checks = checks or {}

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        reasons: dict[str, str] = {}
        for name, check in checks.items():
            try:
                result = check()
                if asyncio.iscoroutine(result):
                    result = await result
            except Exception as exc:
                result = f"check failed: {exc}"
            if result:
                reasons[name] = str(result)
        if reasons:
            reason = "; ".join(f"{k}: {v}" for k, v in reasons.items())
            return JSONResponse(
                {"status": "not_ready", "service": service, "reason": reason, "checks": reasons},
                503,
            )
        return JSONResponse({"status": "ready", "service": service})

    return router
