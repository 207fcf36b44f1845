"""FastAPI app factory: logging, request ids, auth, JSON errors, health and metrics, once."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import Depends, FastAPI, Request

from wheeldesk.auth import require_token
from wheeldesk.errors import install_error_handlers
from wheeldesk.health import ReadinessCheck, health_router
from wheeldesk.logs import REQUEST_ID_HEADER, new_request_id, request_id_var, setup_logging
from wheeldesk.metrics import install_metrics
from wheeldesk.settings import BaseServiceSettings


def create_app(
    service: str,
    settings: BaseServiceSettings,
    *,
    readiness: dict[str, ReadinessCheck] | None = None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
    version: str = "0.1.0",
    description: str = "",
) -> FastAPI:
    setup_logging(service, settings.log_level, settings.log_format)
    app = FastAPI(
        title=f"Wheeldesk {service}",
        version=version,
        description=description,
        lifespan=lifespan,
        dependencies=[Depends(require_token(settings.internal_api_token.get_secret_value()))],
        responses={401: {"description": "Missing or invalid bearer token"}},
    )
    install_error_handlers(app)
    install_metrics(app, service)
    app.include_router(health_router(service, readiness))

    @app.middleware("http")
    async def _request_id(request: Request, call_next):  # type: ignore[no-untyped-def]
        rid = request.headers.get(REQUEST_ID_HEADER) or new_request_id()
        token = request_id_var.set(rid)
        try:
            response = await call_next(request)
        finally:
            request_id_var.reset(token)
        response.headers[REQUEST_ID_HEADER] = rid
        return response

    app.state.settings = settings
    return app
