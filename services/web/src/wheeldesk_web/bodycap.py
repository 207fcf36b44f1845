"""A request body over its cap is refused with 413 while it streams in, not once it is all here.

Django checks an upload's size as it parses it, but only as far as it is given bytes: a body
without a `Content-Length` (chunked) it does not read at all, and one it reads is spooled to
a temporary file first. So the cap is counted in front of the app, on the ASGI messages
uvicorn hands over: a body that says it is too large (`Content-Length`) is refused before a
byte of it is read, and one that turns out too large is refused at the message that passes
the cap — the app gets no more of it, and the view reading it stops with an error instead of
acting on half a form. A chunked body (no length) is counted in here up to the cap and then
handed on with its length, so Django can read it at all. uvicorn reads and drops the rest of
a refused body (so a browser still uploading sees the 413 page instead of a connection
reset); nothing of it is kept.

The caps: the Flex import's file limit (plus room for the form around it) on its own path,
`DATA_UPLOAD_MAX_MEMORY_SIZE` everywhere else (no other form takes a file).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from django.core.exceptions import RequestDataTooBig

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(RequestDataTooBig):
    """Raised into the app when it reads past the cap (the 413 has been sent by then).

    A `SuspiciousOperation`: Django answers it with a 400 (dropped here) and a warning in
    the log, not a 500 and a traceback."""


@dataclass(frozen=True)
class Limit:
    """A body cap and what the refusal tells the user."""

    bytes: int  # the body's cap
    shown: int  # the limit the user knows (a file's, without the form around it)
    what: str = "That request"
    back: str = "/"


def refusal_page(limit: Limit) -> bytes:
    """The 413 a person sees: what was refused, that nothing was stored, the way back."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Too large — Wheeldesk</title></head><body style='font-family:sans-serif'>"
        f"<h1>{escape(limit.what)} is larger than {limit.shown / (1024 * 1024):g} MB</h1>"
        "<p>Nothing was stored.</p>"
        f"<p><a href='{escape(limit.back)}'>Back</a></p></body></html>"
    ).encode()


class BodyCap:
    """ASGI middleware: 413 for a body over its path's `Limit` (or `default`), counted as it
    comes."""

    def __init__(self, app: ASGIApp, limits: Mapping[str, Limit], default: Limit) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = _content_length(scope)
        if declared is not None and declared > limit.bytes:
            await _refuse(send, refusal_page(limit))  # not a byte of the body read
            return
        if declared is None and _chunked(scope):
            await self._chunked(scope, receive, send, limit)
            return
        received = 0
        started = refused = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.bytes:
                    if not started and not refused:
                        refused = True
                        await _refuse(send, refusal_page(limit))
                    raise BodyTooLarge(f"request body over {limit.bytes} bytes")
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out: the app's own answer to the cut body is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not refused:
                raise

    async def _chunked(self, scope: Scope, receive: Receive, send: Send, limit: Limit) -> None:
        """A body of unknown length: counted in as it comes (refused past the cap), then
        handed on whole with its length. Django under WSGI reads only a body whose length
        it is told, so without this a chunked upload would reach the view as empty."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > limit.bytes:
                await _refuse(send, refusal_page(limit))
                return
            if not message.get("more_body", False):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"transfer-encoding"]
        headers.append((b"content-length", str(len(body)).encode()))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)


def _chunked(scope: Scope) -> bool:
    return any(
        k.lower() == b"transfer-encoding" and b"chunked" in v.lower()
        for k, v in scope.get("headers", ())
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, page: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(page)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": page})
