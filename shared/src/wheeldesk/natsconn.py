"""NATS connection helper: reconnect forever with backoff, JetStream stream setup, and the
per-service NATS users with their permissions.

Every service uses this, so that a restarted nats-server is survived the same way
everywhere. Payloads are published as JSON from `wheeldesk.schemas` models.

`PERMISSIONS` is the one statement of who may publish and subscribe to what on the bus;
`server_config` renders it as a nats-server configuration (for `make run`, the test harness
and `deploy/nats/nats-server.conf`), so a service with another service's subjects is refused
by the server itself, not by convention.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

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

    url, user, password = split_credentials(url)

    async def _state(state: str) -> None:
        log.info("nats %s", state, extra={"nats_url": url, "nats_user": user})
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
                user=user,
                password=password,
            )
            await _state("connected")
            return nc
        except Exception as exc:
            if initial_attempts is not None and attempt >= initial_attempts:
                raise
            if "authorization" in str(exc).lower():
                log.error("nats refused user %r: check NATS_USER/NATS_PASSWORD", user)
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


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`nats://user:pass@host:port` -> (`nats://host:port`, user, pass), percent-decoded.

    The credentials are passed to nats-py separately so that a password with `@`, `:` or `/`
    works and the URL that gets logged never carries a password.
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return bare, user, password


# --- NATS users and permissions ---------------------------------------------------------

JS_API = "$JS.API"


def _stream_admin(*streams: str) -> list[str]:
    """JetStream API subjects to look up, create and update these streams (ensure_streams)."""
    return [
        f"{JS_API}.STREAM.{verb}.{name}"
        for name in streams
        for verb in ("INFO", "CREATE", "UPDATE")
    ]


def _consumer(stream: str) -> list[str]:
    """JetStream API subjects to create/look up durable consumers on `stream`, pull from them
    and ack what was pulled (nothing that deletes or purges)."""
    return [
        f"{JS_API}.CONSUMER.CREATE.{stream}",
        f"{JS_API}.CONSUMER.CREATE.{stream}.>",
        f"{JS_API}.CONSUMER.DURABLE.CREATE.{stream}.>",
        f"{JS_API}.CONSUMER.INFO.{stream}.>",
        f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.>",
        f"$JS.ACK.{stream}.>",
    ]


KV_EMAIL_STREAM = f"KV_{subjects.KV_EMAIL_STATUS}"
KV_STREAMING_STREAM = f"KV_{subjects.KV_STREAMING}"


def _kv_read(stream: str) -> list[str]:
    """JetStream API subjects to read one key of a KV bucket (nats-py's `kv.get`)."""
    return [
        f"{JS_API}.DIRECT.GET.{stream}",
        f"{JS_API}.DIRECT.GET.{stream}.>",
        f"{JS_API}.STREAM.MSG.GET.{stream}",
    ]


# user -> {"publish": [...], "subscribe": [...]}. Replies to requests (JetStream API answers,
# publish acks, pulled messages) arrive on the requester's `_INBOX.>`.
PERMISSIONS: dict[str, dict[str, list[str]]] = {
    # The bridge alone speaks for IBKR: quotes on core NATS, the rest on the IBKR stream; it
    # keeps the set of symbols it streams in a KV bucket, so a restart streams them again.
    "gateway-bridge": {
        "publish": [
            "ibkr.>",
            *_stream_admin(subjects.STREAM_IBKR, KV_STREAMING_STREAM),
            f"$KV.{subjects.KV_STREAMING}.>",
            *_kv_read(KV_STREAMING_STREAM),
        ],
        "subscribe": ["_INBOX.>"],
    },
    # The screener publishes finished scans on the SIGNALS stream and reads nothing.
    "screener": {
        "publish": [f"{subjects.SIGNALS_PREFIX}.>", *_stream_admin(subjects.STREAM_SIGNALS)],
        "subscribe": ["_INBOX.>"],
    },
    # The notifier alone puts email jobs on the EMAIL stream (the web asks it over HTTP), pulls
    # them, dead-letters failures and keeps each email's status in a KV bucket.
    "notifier": {
        "publish": [
            f"{subjects.EMAIL_PREFIX}.>",
            subjects.EMAIL_DEAD_LETTER,
            f"$KV.{subjects.KV_EMAIL_STATUS}.>",
            *_stream_admin(subjects.STREAM_EMAIL, subjects.STREAM_EMAIL_DLQ, KV_EMAIL_STREAM),
            *_consumer(subjects.STREAM_EMAIL),
            *_kv_read(KV_EMAIL_STREAM),
        ],
        "subscribe": ["_INBOX.>"],
    },
    # The web (pages, live stream, worker) only reads the bus: live quotes/orders/connection
    # for browsers, and the IBKR stream (orders, executions) for the ledger.
    "web": {
        "publish": [*_stream_admin(subjects.STREAM_IBKR), *_consumer(subjects.STREAM_IBKR)],
        "subscribe": [
            f"{subjects.QUOTE_PREFIX}.*",
            f"{subjects.ORDER_PREFIX}.*",
            subjects.CONNECTION,
            "_INBOX.>",
        ],
    },
}

SERVICE_USERS = {
    "gateway-bridge": "gateway-bridge",
    "screener": "screener",
    "notifier": "notifier",
    "web": "web",
}

ADMIN_USER = "admin"  # the test harness's own user (publishes faults); never in production


def generate_password() -> str:
    """A 43-character random password (the secrets' 32-character minimum, with room)."""
    return secrets.token_urlsafe(32)


def server_config(
    passwords: dict[str, str],
    *,
    listen: str | None = None,
    store_dir: str | None = None,
    admin: bool = False,
    monitor: str | None = None,
) -> str:
    """A nats-server configuration with one user per service and its `PERMISSIONS`.

    `passwords` maps user -> password; a value starting with `$` is left to nats-server to read
    from its environment (compose: `$NATS_PASSWORD_WEB`). `admin=True` adds `ADMIN_USER` with
    every permission (the test harness's publisher of faults). No user means no entry: an
    unauthenticated client is refused. Monitoring only where `monitor` says (compose: the
    container's own loopback, for its healthcheck), never on the network.
    """

    def quoted(value: str) -> str:
        return value if value.startswith("$") else json.dumps(value)

    lines = ["# Wheeldesk NATS: one user per service; rendered by wheeldesk.natsconn.server_config"]
    if listen:
        lines.append(f"listen: {json.dumps(listen)}")
    lines.append(
        "jetstream {" + (f" store_dir: {json.dumps(store_dir)} " if store_dir else "") + "}"
    )
    if monitor:
        lines.append(f"http: {json.dumps(monitor)}")
    lines.append("authorization {")
    lines.append("  users = [")
    for user, perms in PERMISSIONS.items():
        lines.append(f"    {{user: {json.dumps(user)}, password: {quoted(passwords[user])},")
        lines.append("     permissions: {")
        lines.append(f"       publish: {{allow: {json.dumps(perms['publish'])}}},")
        lines.append(f"       subscribe: {{allow: {json.dumps(perms['subscribe'])}}}")
        lines.append("     }}")
    if admin:
        lines.append(
            f"    {{user: {json.dumps(ADMIN_USER)}, password: {quoted(passwords[ADMIN_USER])}}}"
        )
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def credentials_url(url: str, user: str, password: str) -> str:
    """`nats://host:port` with `user:password@` (percent-encoded) in it."""
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc.rsplit('@', 1)[-1]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def password_variable(user: str) -> str:
    """The environment variable holding `user`'s password in compose: NATS_PASSWORD_<USER>."""
    return "NATS_PASSWORD_" + user.upper().replace("-", "_")


def deploy_config() -> str:
    """`deploy/nats/nats-server.conf`: every password read by nats-server from its environment
    (`$NATS_PASSWORD_WEB`, …), JetStream in /data, monitoring on the container's loopback only.
    Regenerate with `python -m wheeldesk.natsconn > deploy/nats/nats-server.conf`."""
    return server_config(
        {user: "$" + password_variable(user) for user in PERMISSIONS},
        listen="0.0.0.0:4222",
        store_dir="/data",
        monitor="127.0.0.1:8222",
    )


if __name__ == "__main__":
    print(deploy_config(), end="")
