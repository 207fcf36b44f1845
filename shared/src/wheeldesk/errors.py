"""JSON errors for every FastAPI service: a stable `code`, a human message, the field."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from wheeldesk.schemas.common import ApiError

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """Raise from a route or a plain function; becomes `{code, message, field}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers


def _field_name(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        body = ApiError(code=exc.code, message=exc.message, field=exc.field)
        return JSONResponse(body.model_dump(exclude_none=True), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
        field = _field_name(first.get("loc", ()))
        details = [
            {"field": _field_name(e.get("loc", ())), "message": e.get("msg", "")} for e in errors
        ]
        body = ApiError(
            code="invalid", message=f"{field}: {first.get('msg')}", field=field, details=details
        )
        return JSONResponse(body.model_dump(exclude_none=True), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        body = ApiError(code=code, message=str(exc.detail))
        return JSONResponse(body.model_dump(exclude_none=True), exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %s", exc)
        body = ApiError(code="internal", message="internal error; see the service log")
        return JSONResponse(body.model_dump(), 500)
