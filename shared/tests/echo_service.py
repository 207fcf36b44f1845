"""A scripted Wheeldesk service for the client tests, run as its own process.

Built with the real `create_app` (bearer auth, `X-Request-ID`, JSON errors, `/readyz`), it
answers any `/v1/...` call with the next answer the test scripted (`PUT /_script`) and records
what it was asked (`GET /_seen`), so a test can check that the async and the sync client send
the same request and read the same answer for every endpoint.

Usage: `python echo_service.py PORT TOKEN`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import uvicorn
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from wheeldesk.app import create_app
from wheeldesk.settings import BaseServiceSettings

_script: dict[str, Any] = {"answers": [], "not_ready": None}
_seen: list[dict[str, Any]] = []


def _not_ready() -> str | None:
    return _script["not_ready"]


def build(token: str) -> Any:
    settings = BaseServiceSettings(internal_api_token=token, log_level="WARNING")  # type: ignore[arg-type]
    app = create_app("echo", settings, readiness={"echo": _not_ready})

    @app.put("/_script")
    async def script(request: Request) -> dict[str, int]:
        """The answers to give, in order: `{status, json | text, headers, delay}` each."""
        body = await request.json()
        _script["answers"] = list(body.get("answers", []))
        _script["not_ready"] = body.get("not_ready")
        _seen.clear()
        return {"answers": len(_script["answers"])}

    @app.get("/_seen")
    async def seen() -> list[dict[str, Any]]:
        return list(_seen)

    @app.api_route("/v1/{path:path}", methods=["GET", "POST", "DELETE"])
    async def any_call(request: Request) -> Response:
        raw = await request.body()
        _seen.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": list(request.query_params.multi_items()),
                "raw_query": request.url.query,
                "json": await request.json() if raw else None,
                "content_type": request.headers.get("content-type"),
                "authorization": request.headers.get("authorization"),
                "request_id": request.headers.get("x-request-id"),
            }
        )
        if not _script["answers"]:
            return JSONResponse({"code": "unscripted", "message": "no answer scripted"}, 599)
        answer = _script["answers"].pop(0)
        if answer.get("delay"):
            await asyncio.sleep(answer["delay"])
        headers = answer.get("headers") or {}
        if "text" in answer:
            return Response(answer["text"], answer["status"], headers, media_type="text/plain")
        return JSONResponse(answer.get("json"), answer["status"], headers)

    return app


if __name__ == "__main__":
    port, token = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(build(token), host="127.0.0.1", port=port, log_level="warning")
