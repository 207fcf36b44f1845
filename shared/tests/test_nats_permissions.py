"""NATS users against a real nats-server: each service can do its own work on the bus and the
server itself refuses the rest (a stolen web password cannot fake a fill or queue an email)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import NoServersError
from nats.js.api import AckPolicy, ConsumerConfig, KeyValueConfig, StorageType
from wheeldesk import natsconn, subjects
from wheeldesk_testing.procs import (
    ROOT,
    Proc,
    free_port,
    nats_proc,
    nats_server_binary,
    nats_user_env,
)


@pytest.fixture(scope="module")
def server() -> Iterator[Proc]:
    proc = nats_proc().start()
    yield proc
    proc.stop()


async def as_user(server: Proc, service: str, errors: list[str] | None = None) -> nats.NATS:
    env = nats_user_env(server, service)

    async def error_cb(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc))

    return await nats.connect(
        env["NATS_URL"],
        user=env["NATS_USER"],
        password=env["NATS_PASSWORD"],
        error_cb=error_cb,
        allow_reconnect=False,
    )


def test_unauthenticated_and_wrong_password_clients_are_refused(server: Proc) -> None:
    async def attempt(**kwargs: str) -> str:
        try:
            nc = await nats.connect(
                f"nats://127.0.0.1:{server.port}",
                allow_reconnect=False,
                max_reconnect_attempts=0,
                connect_timeout=2,
                **kwargs,
            )
        except (NoServersError, nats.errors.Error, OSError) as exc:
            return type(exc).__name__ + ": " + str(exc)
        await nc.close()
        return "connected"

    anonymous = asyncio.run(attempt())
    wrong = asyncio.run(attempt(user="web", password="not-the-password"))
    assert anonymous != "connected" and "authorization" in anonymous.lower(), anonymous
    assert wrong != "connected" and "authorization" in wrong.lower(), wrong


async def _bridge_events_to_web(bridge: nats.NATS, web: nats.NATS) -> dict[str, object]:
    """The bridge publishes an order event (JetStream IBKR) and a quote (core NATS); the web
    reads the quote live and the order through its durable consumer."""
    quotes: list[bytes] = []
    sub = await web.subscribe(f"{subjects.QUOTE_PREFIX}.*", cb=_collector(quotes))
    await web.flush()
    bjs = bridge.jetstream()
    await natsconn.ensure_streams(bjs, [subjects.STREAM_IBKR])
    ack = await bjs.publish(subjects.order(41), b'{"x": 1}')
    await bridge.publish(subjects.quote("KO"), b'{"q": 1}')
    await bridge.flush()

    wjs = web.jetstream()
    await natsconn.ensure_streams(wjs, [subjects.STREAM_IBKR])
    pull = await wjs.pull_subscribe(
        f"{subjects.ORDER_PREFIX}.>",
        durable="perm-test",
        stream=subjects.STREAM_IBKR,
        config=ConsumerConfig(durable_name="perm-test", ack_policy=AckPolicy.EXPLICIT),
    )
    (msg,) = await pull.fetch(1, timeout=5)
    await msg.ack_sync()
    await sub.unsubscribe()
    return {
        "order_seq": ack.seq,
        "quotes": quotes,
        "order_read": msg.data,
        "streaming_set": await _bridge_streaming_set(bjs),
    }


async def _bridge_streaming_set(bjs) -> bytes:  # type: ignore[no-untyped-def]
    """The bridge keeps the symbols it streams in its KV bucket (gateway_bridge.streaming_set)."""
    await bjs.create_key_value(
        KeyValueConfig(bucket=subjects.KV_STREAMING, history=1, storage=StorageType.FILE)
    )
    kv = await bjs.key_value(subjects.KV_STREAMING)
    await kv.put(subjects.streaming_key(17), b'["KO"]')
    return (await kv.get(subjects.streaming_key(17))).value


async def _notifier_email_work(notifier: nats.NATS) -> dict[str, object]:
    """The notifier's streams, its KV status record, its work-queue consumer, a dead letter."""
    njs = notifier.jetstream()
    await natsconn.ensure_streams(njs, [subjects.STREAM_EMAIL, subjects.STREAM_EMAIL_DLQ])
    kv = await njs.create_key_value(
        KeyValueConfig(bucket=subjects.KV_EMAIL_STATUS, history=1, storage=StorageType.FILE)
    )
    kv = await njs.key_value(subjects.KV_EMAIL_STATUS)
    await kv.create("e1", b"queued")
    await kv.put("e1", b"sent")
    status = (await kv.get("e1")).value
    email_ack = await njs.publish(subjects.email("e1"), b"{}")
    await njs.add_consumer(
        subjects.STREAM_EMAIL,
        ConsumerConfig(
            durable_name="perm-email",
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=f"{subjects.EMAIL_PREFIX}.>",
        ),
    )
    await njs.consumer_info(subjects.STREAM_EMAIL, "perm-email")
    email_sub = await njs.pull_subscribe_bind("perm-email", stream=subjects.STREAM_EMAIL)
    (job,) = await email_sub.fetch(1, timeout=5)
    await job.ack_sync()
    dead = await njs.publish(subjects.EMAIL_DEAD_LETTER, b"{}")
    return {
        "status": status,
        "email_stream": email_ack.stream,
        "job": job.subject,
        "dead_stream": dead.stream,
    }


async def _screener_signals(screener: nats.NATS) -> dict[str, object]:
    sjs = screener.jetstream()
    await natsconn.ensure_streams(sjs, [subjects.STREAM_SIGNALS])
    signal = await sjs.publish(subjects.signals("s1"), b"{}")
    return {"signal_stream": signal.stream}


def test_each_service_does_its_own_work_on_the_bus(server: Proc) -> None:
    """The bridge's stream and events, the web's durable consumer, the notifier's email
    stream, consumer, KV status and dead letters, the screener's signals: all as their users."""

    async def run() -> dict[str, object]:
        bridge = await as_user(server, "gateway-bridge")
        web = await as_user(server, "web")
        notifier = await as_user(server, "notifier")
        screener = await as_user(server, "screener")
        try:
            return {
                **await _bridge_events_to_web(bridge, web),
                **await _notifier_email_work(notifier),
                **await _screener_signals(screener),
            }
        finally:
            for nc in (bridge, web, notifier, screener):
                await nc.close()

    result = asyncio.run(run())
    assert result == {
        "order_seq": 1,
        "quotes": [b'{"q": 1}'],
        "order_read": b'{"x": 1}',
        "streaming_set": b'["KO"]',
        "status": b"sent",
        "email_stream": subjects.STREAM_EMAIL,
        "job": subjects.email("e1"),
        "dead_stream": subjects.STREAM_EMAIL_DLQ,
        "signal_stream": subjects.STREAM_SIGNALS,
    }


def _collector(into: list[bytes]):  # type: ignore[no-untyped-def]
    async def collect(msg) -> None:  # type: ignore[no-untyped-def]
        into.append(msg.data)

    return collect


@pytest.mark.parametrize(
    ("service", "subject"),
    [
        ("web", subjects.quote("KO")),  # a fake "live" quote to every browser
        ("web", subjects.execution("0001.fake")),  # a fake fill into the ledger
        ("web", subjects.email("evil")),  # an email job the notifier would send
        ("web", f"$KV.{subjects.KV_STREAMING}.{subjects.streaming_key(17)}"),  # the bridge's set
        ("screener", subjects.order(1)),
        ("notifier", subjects.CONNECTION),
        ("gateway-bridge", subjects.email("evil")),
    ],
)
def test_a_service_cannot_publish_another_services_subjects(
    server: Proc, service: str, subject: str
) -> None:
    """The server drops the message and tells the publisher; a listener sees nothing."""

    async def run() -> tuple[list[bytes], list[str]]:
        watcher = await nats.connect(server.url)
        errors: list[str] = []
        offender = await as_user(server, service, errors)
        seen: list[bytes] = []
        try:
            await watcher.subscribe(subject, cb=_collector(seen))
            await watcher.flush()
            await offender.publish(subject, b'{"price": 0.01}')
            await offender.flush()
            for _ in range(40):
                if errors:
                    break
                await asyncio.sleep(0.05)
            await watcher.flush()
            await asyncio.sleep(0.2)
        finally:
            await offender.close()
            await watcher.close()
        return seen, errors

    seen, errors = asyncio.run(run())
    assert seen == []
    assert any("permissions violation for publish" in e.lower() for e in errors), errors


def test_the_web_cannot_read_email_jobs_or_the_signals_bus(server: Proc) -> None:
    async def run() -> list[str]:
        errors: list[str] = []
        web = await as_user(server, "web", errors)
        try:
            await web.subscribe(f"{subjects.EMAIL_PREFIX}.>")
            await web.flush()
            for _ in range(40):
                if errors:
                    break
                await asyncio.sleep(0.05)
        finally:
            await web.close()
        return errors

    errors = asyncio.run(run())
    assert any("permissions violation for subscription" in e.lower() for e in errors), errors


def test_server_config_has_no_monitoring_port_and_every_user() -> None:
    text = natsconn.server_config({u: f"pw-{u}" for u in natsconn.PERMISSIONS})
    assert "http" not in text and "8222" not in text and "monitor" not in text
    for user in natsconn.PERMISSIONS:
        assert f'user: "{user}", password: "pw-{user}"' in text
    assert natsconn.ADMIN_USER not in text.split("users", 1)[1]
    env_text = natsconn.server_config({u: "$NATS_PASSWORD" for u in natsconn.PERMISSIONS})
    assert "password: $NATS_PASSWORD," in env_text


def test_credentials_travel_separately_from_the_url() -> None:
    url = natsconn.credentials_url("nats://nats:4222", "web", "p@ss:w/rd")
    assert url == "nats://web:p%40ss%3Aw%2Frd@nats:4222"
    assert natsconn.split_credentials(url) == ("nats://nats:4222", "web", "p@ss:w/rd")
    assert natsconn.split_credentials("nats://nats:4222") == ("nats://nats:4222", None, None)


def test_the_deploy_config_is_the_rendered_one_and_reads_passwords_from_the_environment(
    tmp_path: Path,
) -> None:
    """deploy/nats/nats-server.conf is `natsconn.deploy_config()` (regenerate it with
    `python -m wheeldesk.natsconn`), and nats-server started on it lets each service in with
    the password from its NATS_PASSWORD_<SERVICE> variable, and nobody without one."""
    committed = (ROOT / "deploy" / "nats" / "nats-server.conf").read_text()
    assert committed == natsconn.deploy_config()
    config = tmp_path / "nats.conf"
    config.write_text(committed.replace('"/data"', json.dumps(str(tmp_path / "js"))))
    passwords = {user: natsconn.generate_password() for user in natsconn.PERMISSIONS}
    port, monitor = free_port(), free_port()
    server = Proc(
        "nats-deploy",
        [
            nats_server_binary(),
            "-c",
            str(config),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            str(monitor),
        ],
        env={natsconn.password_variable(u): p for u, p in passwords.items()},
        port=port,
    ).start()
    try:

        async def login(user: str | None, password: str | None) -> str:
            try:
                nc = await nats.connect(
                    f"nats://127.0.0.1:{port}",
                    user=user,
                    password=password,
                    allow_reconnect=False,
                    max_reconnect_attempts=0,
                    connect_timeout=2,
                )
            except Exception as exc:
                return str(exc)
            await nc.close()
            return "ok"

        for user, password in passwords.items():
            assert asyncio.run(login(user, password)) == "ok", user
        assert "authorization" in asyncio.run(login(None, None)).lower()
        assert "authorization" in asyncio.run(login("web", passwords["notifier"])).lower()
    finally:
        server.stop()


def test_docs_security_lists_each_users_subjects() -> None:
    """docs/security.md's table says what `PERMISSIONS` grants (the $JS API abbreviated)."""
    text = (ROOT / "docs" / "security.md").read_text()
    rows = {
        line.split("`")[1]: line
        for line in text.splitlines()
        if line.startswith("| `") and line.count("|") == 4
    }
    for user, perms in natsconn.PERMISSIONS.items():
        assert user in rows, user
        for subject in perms["publish"] + perms["subscribe"]:
            if not subject.startswith("$JS."):
                assert f"`{subject}`" in rows[user], (user, subject)
