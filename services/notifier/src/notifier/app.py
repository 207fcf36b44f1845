"""Notifier HTTP app: thin routes over `intake` and `store`; the consumer runs alongside."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Path
from fastapi.responses import JSONResponse
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from wheeldesk import subjects
from wheeldesk.app import create_app
from wheeldesk.errors import ServiceError
from wheeldesk.natsconn import connect, ensure_streams
from wheeldesk.schemas.email import EmailAccepted, EmailRequest, EmailStatus
from wheeldesk.settings import load_settings

from notifier.backends import make_backend
from notifier.delivery import Deliverer
from notifier.intake import accept
from notifier.settings import NotifierSettings
from notifier.store import StatusStore

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the routes need once NATS is up; `None` fields mean not ready yet."""

    nc: NATS | None = None
    js: JetStreamContext | None = None
    store: StatusStore | None = None
    deliverer: Deliverer | None = None
    setup_problem: str | None = "connecting to NATS"
    connected: bool = False

    @property
    def problem(self) -> str | None:
        if self.setup_problem:
            return self.setup_problem
        return None if self.connected else "NATS disconnected"

    def require(self) -> tuple[JetStreamContext, StatusStore]:
        if self.js is None or self.store is None or self.problem:
            raise ServiceError(
                503,
                "not_ready",
                f"notifier not ready: {self.problem or 'starting'}",
                headers={"Retry-After": "1"},
            )
        return self.js, self.store


async def _start(runtime: Runtime, settings: NotifierSettings) -> None:
    async def on_state(state: str) -> None:
        runtime.connected = state != "disconnected"

    while True:
        try:
            nc = await connect(settings.nats_url, name="notifier", on_state=on_state)
            runtime.nc = nc
            js = nc.jetstream()
            await ensure_streams(js, [subjects.STREAM_EMAIL, subjects.STREAM_EMAIL_DLQ])
            store = await StatusStore.open(js, settings.email_status_ttl_days)
            deliverer = Deliverer(settings, js, store, make_backend(settings))
            await deliverer.start()
            runtime.js, runtime.store, runtime.deliverer = js, store, deliverer
            runtime.setup_problem = None
            log.info("notifier ready (backend %s)", settings.email_backend)
            return
        except Exception as exc:
            runtime.setup_problem = f"JetStream setup failed: {exc}"
            log.warning("notifier setup failed (%s); retrying", exc)
            if runtime.nc is not None:
                with contextlib.suppress(Exception):
                    await runtime.nc.close()
                runtime.nc = None
            await asyncio.sleep(1.0)


def build_app(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or load_settings(NotifierSettings)
    runtime = Runtime()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        starter = asyncio.create_task(_start(runtime, settings))
        try:
            yield
        finally:
            starter.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starter
            if runtime.deliverer is not None:
                await runtime.deliverer.stop()
            if runtime.nc is not None:
                with contextlib.suppress(Exception):
                    await runtime.nc.drain()

    def ready() -> str | None:
        if runtime.problem:
            return runtime.problem
        if runtime.deliverer is None or not runtime.deliverer.running:
            return "email consumer not running"
        return None

    app = create_app(
        "notifier",
        settings,
        readiness={"queue": ready},
        lifespan=lifespan,
        description="Outgoing email: queued in JetStream, sent through Resend exactly once.",
    )
    app.state.runtime = runtime

    @app.post(
        "/v1/emails",
        status_code=202,
        response_model=EmailAccepted,
        responses={200: {"description": "A repeat of an earlier request (same idempotency_key)"}},
    )
    async def send_email(body: EmailRequest) -> JSONResponse:
        js, store = runtime.require()
        answer, new = await accept(body, js=js, store=store, web_url=settings.web_public_url)
        return JSONResponse(answer.model_dump(mode="json"), status_code=202 if new else 200)

    @app.get("/v1/emails/{email_id}", response_model=EmailStatus)
    async def email_status(
        email_id: str = Path(pattern=r"^[A-Za-z0-9_-]{1,100}$"),
    ) -> EmailStatus:
        _, store = runtime.require()
        status = await store.get(email_id)
        if status is None:
            raise ServiceError(404, "not_found", f"no email {email_id}", field="email_id")
        return status

    return app
