"""NATS connection helper: reconnect forever with backoff, and JetStream stream setup.

Every service uses this, so that a restarted nats-server is survived the same way
everywhere. Payloads are published as JSON from `wheeldesk.schemas` models.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from pydantic import BaseModel

from wheeldesk import subjects

log = logging.getLogger(__name__)

STREAMS: dict[str, StreamConfig] = {
    subjects.STREAM_IBKR: StreamConfig(
        name=subjects.STREAM_IBKR,
        subjects=subjects.STREAM_IBKR_SUBJECTS,
        storage=StorageType.FILE,
        duplicate_window=600.0,
        max_age=30 * 24 * 3600.0,
    ),
    subjects.STREAM_EMAIL: StreamConfig(
        name=subjects.STREAM_EMAIL,
        subjects=subjects.STREAM_EMAIL_SUBJECTS,
        storage=StorageType.FILE,
        retention=RetentionPolicy.WORK_QUEUE,
        duplicate_window=24 * 3600.0,
    ),
    subjects.STREAM_EMAIL_DLQ: StreamConfig(
        name=subjects.STREAM_EMAIL_DLQ,
        subjects=subjects.STREAM_EMAIL_DLQ_SUBJECTS,
        storage=StorageType.FILE,
        max_age=30 * 24 * 3600.0,
    ),
    subjects.STREAM_SIGNALS: StreamConfig(
        name=subjects.STREAM_SIGNALS,
        subjects=subjects.STREAM_SIGNALS_SUBJECTS,
        storage=StorageType.FILE,
        max_age=7 * 24 * 3600.0,
        discard=DiscardPolicy.OLD,
    ),
}


async def connect(
    url: str,
    *,
    name: str,
    on_state: Callable[[str], Awaitable[None] | None] | None = None,
    initial_attempts: int | None = None,
    max_backoff: float = 5.0,
) -> NATS:
    """Connect, retrying the first connection with capped backoff; then reconnect forever."""

    async def _state(state: str) -> None:
        log.info("nats %s", state, extra={"nats_url": url})
        if on_state is not None:
            result = on_state(state)
            if asyncio.iscoroutine(result):
                await result

    async def disconnected_cb() -> None:
        await _state("disconnected")

    async def reconnected_cb() -> None:
        await _state("reconnected")

    async def error_cb(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    delay = 0.1
    attempt = 0
    while True:
        attempt += 1
        try:
            nc = await nats.connect(
                url,
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=2,
                disconnected_cb=disconnected_cb,
                reconnected_cb=reconnected_cb,
                error_cb=error_cb,
            )
            await _state("connected")
            return nc
        except Exception as exc:
            if initial_attempts is not None and attempt >= initial_attempts:
                raise
            log.warning("nats connect failed (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff)


async def ensure_streams(js: JetStreamContext, names: list[str] | None = None) -> None:
    """Create (or update) the JetStream streams this service relies on. Idempotent."""
    for name in names or list(STREAMS):
        config = STREAMS[name]
        try:
            await js.stream_info(name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)


def encode(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


async def publish_event(
    js: JetStreamContext, subject: str, event: BaseModel, *, msg_id: str | None = None
) -> Any:
    """Publish on JetStream, deduplicated by `Nats-Msg-Id` (the event id by default)."""
    headers = {"Nats-Msg-Id": msg_id or str(getattr(event, "event_id", ""))}
    return await js.publish(subject, encode(event), headers=headers)
