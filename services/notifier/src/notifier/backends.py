"""Where an email goes: Resend (production) or an outbox folder (demo, `EMAIL_BACKEND=console`).

A backend returns the provider's id, or raises `TransientError` (worth retrying:
429, 5xx, network) or `PermanentError` (the request itself is wrong).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
import resend
from resend.exceptions import ResendError
from resend.http_client_async import AsyncHTTPClient
from wheeldesk.schemas.email import EmailJob

from notifier.settings import NotifierSettings

log = logging.getLogger(__name__)


class TransientError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    pass


class Backend(Protocol):
    name: str

    async def send(self, job: EmailJob) -> str: ...

    async def aclose(self) -> None: ...


def _retry_after(headers: dict[str, str] | None) -> float | None:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None  # an HTTP date: fall back to our own backoff
    return None


class PooledHTTPXClient(AsyncHTTPClient):
    """The SDK's httpx client opens a new connection pool (and TLS context) per email;
    this one keeps one pool for the process, which is most of the CPU per send."""

    def __init__(self, timeout: float) -> None:
        self._client = httpx.AsyncClient(
            timeout=timeout, limits=httpx.Limits(max_connections=64, max_keepalive_connections=16)
        )

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: dict[str, object] | list[object] | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        try:
            resp = await self._client.request(
                method,
                url,
                headers=headers,
                json=json if data is None else None,
                data=data,
                files=files,
            )
        except httpx.RequestError as exc:
            # The SDK turns this into ResendError(500, "HttpClientError"): retried.
            raise RuntimeError(f"Request failed: {exc}") from exc
        return resp.content, resp.status_code, resp.headers

    async def aclose(self) -> None:
        await self._client.aclose()


class ResendBackend:
    """The official SDK, async, with the email's idempotency key as `Idempotency-Key`."""

    name = "resend"

    def __init__(self, settings: NotifierSettings) -> None:
        self.sender = settings.email_from
        # The SDK reads RESEND_API_KEY/RESEND_API_URL at import; settings (and .env) win.
        resend.api_key = settings.resend_api_key.get_secret_value()
        resend.api_url = settings.resend_api_url.rstrip("/")
        self.http = PooledHTTPXClient(settings.resend_timeout)
        resend.default_async_http_client = self.http

    async def send(self, job: EmailJob) -> str:
        params: dict[str, Any] = {"from": self.sender, "to": job.to, "subject": job.subject}
        for name in ("cc", "bcc", "reply_to"):
            if getattr(job, name):
                params[name] = getattr(job, name)
        if job.html:
            params["html"] = job.html
        if job.text:
            params["text"] = job.text
        try:
            response = await resend.Emails.send_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": job.idempotency_key},
            )
        except ResendError as exc:
            code = int(exc.code) if str(exc.code).isdigit() else 500
            message = f"resend {code} {exc.error_type}: {exc.message}"
            # 409: the same key still in progress at Resend (our payload per key never
            # changes), e.g. a redelivery racing a slow first attempt: ask again later.
            if code in (409, 429) or code >= 500:
                raise TransientError(message, _retry_after(exc.headers)) from exc
            raise PermanentError(message) from exc
        email_id = response.get("id") if isinstance(response, dict) else None
        if not email_id:
            raise TransientError("resend answered without an email id")
        return str(email_id)

    async def aclose(self) -> None:
        await self.http.aclose()


class ConsoleBackend:
    """Writes `<id>.html`, `<id>.txt` and `<id>.json` to the outbox and logs one line."""

    name = "console"

    def __init__(self, settings: NotifierSettings) -> None:
        self.outbox = Path(settings.email_outbox_dir)
        self.sender = settings.email_from

    async def send(self, job: EmailJob) -> str:
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
            meta = {
                "id": job.id,
                "from": self.sender,
                "to": job.to,
                "cc": job.cc,
                "bcc": job.bcc,
                "reply_to": job.reply_to,
                "subject": job.subject,
                "template": job.template,
                "idempotency_key": job.idempotency_key,
            }
            for suffix, body in (("html", job.html), ("txt", job.text)):
                if body:
                    _write(self.outbox / f"{job.id}.{suffix}", body)
            _write(self.outbox / f"{job.id}.json", json.dumps(meta, indent=2))
        except OSError as exc:
            raise TransientError(f"outbox not writable: {exc}") from exc
        shown = self.outbox / f"{job.id}.{'html' if job.html else 'txt'}"
        log.info("email %s to %s: %s -> %s", job.id, ", ".join(job.to), job.subject, shown)
        return f"console-{job.id}"

    async def aclose(self) -> None:
        return None


def _write(path: Path, body: str) -> None:
    """Write whole or not at all: a reader never sees half an email."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(path)


def make_backend(settings: NotifierSettings) -> Backend:
    if settings.email_backend == "resend":
        return ResendBackend(settings)
    return ConsoleBackend(settings)
