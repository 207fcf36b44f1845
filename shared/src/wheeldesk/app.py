"""FastAPI app factory: logging, request ids, auth, Host allow-list, JSON errors, health and
metrics, once."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from wheeldesk.auth import DOC_PATHS, host_name, require_token, token_ok
from wheeldesk.errors import install_error_handlers
from wheeldesk.health import ReadinessCheck, health_router
from wheeldesk.logs import REQUEST_ID_HEADER, new_request_id, request_id_var, setup_logging
from wheeldesk.metrics import install_metrics
from wheeldesk.schemas.common import ApiError
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
    token = settings.internal_api_token.get_secret_value()
    hosts = settings.api_hosts()
    # Outside demo mode the interactive docs are off; the schema stays, behind the token.
    docs = settings.demo_mode
    app = FastAPI(
        title=f"Wheeldesk {service}",
        version=version,
        description=description,
        lifespan=lifespan,
        dependencies=[Depends(require_token(token))],
        responses={
            400: {"description": "Host not allowed (API_ALLOWED_HOSTS)", "model": ApiError},
            401: {"description": "Missing or invalid bearer token", "model": ApiError},
        },
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )

    @app.middleware("http")
    async def _perimeter(request: Request, call_next):  # type: ignore[no-untyped-def]
        """Refuse a foreign Host before anything runs (a web page that rebinds its own name to
        127.0.0.1 reaches the port, but its Host is its own name), and keep the API
        documentation behind the bearer token like every route."""
        name = host_name(request.headers.get("host"))
        if name not in hosts:
            body = ApiError(
                code="host_not_allowed",
                message=f"Host {name or '(none)'!r} is not allowed; see API_ALLOWED_HOSTS",
                field="Host",
            )
            return JSONResponse(body.model_dump(exclude_none=True), 400)
        if request.url.path in DOC_PATHS and not token_ok(
            request.headers.get("authorization"), token
        ):
            body = ApiError(code="unauthorized", message="missing or invalid bearer token")
            return JSONResponse(body.model_dump(exclude_none=True), 401)
        return await call_next(request)

    install_error_handlers(app)
    install_metrics(app, service)
    app.include_router(health_router(service, readiness))
    document_not_found(app)

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


NOT_FOUND = {
    "description": "Nothing with that id or symbol (the path parameter names it)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
}


def document_not_found(app: FastAPI) -> None:
    """Every operation with a path parameter can answer 404 (`ServiceError(404, …)` naming the
    parameter): say so in the schema, so the documented codes are the ones the API answers
    (schemathesis checks both ways)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for path, item in schema.get("paths", {}).items():
                if "{" not in path:
                    continue
                for operation in item.values():
                    if isinstance(operation, dict) and "responses" in operation:
                        operation["responses"].setdefault("404", NOT_FOUND)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
