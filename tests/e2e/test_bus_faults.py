"""The bus under abuse: malformed payloads on every consumed subject, and nats-server killed.

A stack of its own (with the worker, and the notifier sending through a fake Resend) so that
killing nats-server does not disturb the session's shared stack.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, date, datetime

import httpx
import nats
import pytest
from wheeldesk import subjects
from wheeldesk.natsconn import publish_event
from wheeldesk.schemas.common import DataType
from wheeldesk.schemas.market import QuoteEvent
from wheeldesk.schemas.orders import ExecutionEvent, Fill
from wheeldesk_testing.e2e import (
    MARKET_CLOSED,
    SSEReader,
    login,
    publish_raw,
    ready,
    sell_put_from_web,
    sim_orders,
    wait_until,
)
from wheeldesk_testing.fake_resend import FakeResend
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.waits import email_queue_idle
from wheeldesk_testing.web_state import WebState

pytestmark = pytest.mark.slow

GARBAGE = [b"{not json", b"\xff\xfe\x00", b"[]", b'{"symbol": 5, "last": "lots"}', b""]


@pytest.fixture(scope="module")
def resend():  # type: ignore[no-untyped-def]
    with FakeResend() as fake:
        yield fake


@pytest.fixture(scope="module")
def system(resend):  # type: ignore[no-untyped-def]
    started = Stack.start(worker=True)
    try:
        started.notifier.env.update(
            {
                "EMAIL_BACKEND": "resend",
                "RESEND_API_KEY": "re_test_e2e_0123456789",
                "RESEND_API_URL": resend.url,
                "EMAIL_BACKOFF_BASE": "0.2",
                "EMAIL_BACKOFF_MAX": "2",
            }
        )
        started.notifier.restart(wait=True)
        # A closed-market clock: the worker only consumes NATS (no scheduled sync polling the
        # bridge), so what reaches the web's database came over JetStream.
        assert started.worker is not None
        started.worker.argv += ["--now", MARKET_CLOSED]
        started.worker.restart(wait=False)
        yield started
    finally:
        started.stop()


def _email(system: Stack, key: str, to: str) -> httpx.Response:
    return httpx.post(
        f"{system.notifier_url}/v1/emails",
        json={"to": [to], "subject": f"e2e {key}", "text": "hello", "idempotency_key": key},
        headers={"Authorization": f"Bearer {system.env['INTERNAL_API_TOKEN']}"},
        timeout=15,
    )


def _count_executions(system: Stack, exec_id: str) -> int:
    return len([e for e in WebState(system).executions() if e["exec_id"] == exec_id])


def test_malformed_email_jobs_are_skipped_and_the_next_one_is_sent(system, resend) -> None:
    bad = [(subjects.email(f"bad{i}"), data) for i, data in enumerate(GARBAGE)]
    bad.append((subjects.email("wrong"), json.dumps({"id": "x", "to": "nobody"}).encode()))
    publish_raw(system.nats_url, bad, jetstream=True)
    accepted = _email(system, "malformed-then-good", "good@example.com")
    assert accepted.status_code == 202, accepted.text
    sent = wait_until(lambda: resend.sent_to("good@example.com"), 60, "the good email")
    assert len(sent) == 1 and sent[0].subject == "e2e malformed-then-good"
    assert ready(system.notifier_url)
    assert "malformed email job skipped" in system.notifier.log_text()
    assert all(e.subject.startswith("e2e ") for e in resend.emails)


def test_malformed_quotes_and_connection_events_do_not_break_the_live_stream(system) -> None:
    client = login(system)
    reader = SSEReader(client, "/live/stream", {"symbols": "KO"})
    try:
        wait_until(lambda: reader.status is not None, 30, "the SSE stream to open")
        assert reader.status == 200
        # The web's hub subscribes to NATS for its first client: a probe quote on the stream
        # says it listens, so the junk below reaches it.
        probe = QuoteEvent(symbol="KO", last=887.03, market_data_type=DataType.DELAYED)

        def hub_listening() -> bool:
            publish_raw(system.nats_url, [(subjects.quote("KO"), probe.model_dump_json().encode())])
            return reader.seen("887.03")

        wait_until(hub_listening, 30, "the live hub passing a probe quote")
        junk = [(subjects.quote("KO"), d) for d in GARBAGE]
        junk += [(subjects.CONNECTION, d) for d in GARBAGE]
        good = QuoteEvent(symbol="KO", last=888.17, market_data_type=DataType.DELAYED)
        publish_raw(system.nats_url, junk)
        # After the junk, a good quote still passes. Sent until seen, as the probe is: the hub
        # keeps the latest quote of a symbol per push, and tws-sim's own KO quotes may replace it.

        def good_passes() -> bool:
            publish_raw(system.nats_url, [(subjects.quote("KO"), good.model_dump_json().encode())])
            return reader.seen("888.17")

        wait_until(good_passes, 30, "the good quote on the SSE stream")
        assert httpx.get(f"{system.web_url}/readyz", timeout=10).status_code == 200
    finally:
        reader.close()
        client.close()


def test_malformed_executions_are_skipped_by_the_worker(system) -> None:
    publish_raw(
        system.nats_url,
        [(subjects.execution(f"junk{i}"), d) for i, d in enumerate(GARBAGE)]
        + [(subjects.execution("wrong"), b'{"fill": {"exec_id": 1}}')],
        jetstream=True,
    )
    good = Fill(
        exec_id="e2e.bus.0001",
        time=datetime(2026, 11, 2, 15, tzinfo=UTC),
        symbol="PEP",
        sec_type="OPT",
        expiry=date(2026, 11, 20),
        strike=150.0,
        right="P",
        multiplier=100,
        side="SLD",
        quantity=1,
        price=2.40,
        commission=1.05,
    )

    async def go() -> None:
        nc = await nats.connect(system.nats_url)
        try:
            await publish_event(
                nc.jetstream(), subjects.execution(good.exec_id), ExecutionEvent(fill=good)
            )
        finally:
            await nc.close()

    asyncio.run(go())
    wait_until(lambda: _count_executions(system, good.exec_id) == 1, 90, "the good execution")
    assert system.worker is not None and system.worker.running


def _quote_reaches_nats(system: Stack, symbol: str, price: float) -> bool:
    async def go() -> bool:
        nc = await nats.connect(system.nats_url)
        try:
            sub = await nc.subscribe(subjects.quote(symbol))
            await nc.flush()
            await asyncio.to_thread(
                system.control, "/control/price", {"symbol": symbol, "price": price}
            )
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    msg = await sub.next_msg(timeout=max(0.1, deadline - time.monotonic()))
                except TimeoutError:
                    break
                try:
                    event = QuoteEvent.model_validate_json(msg.data)
                except ValueError:
                    continue
                if event.price and abs(event.price - price) < 5:
                    return True
            return False
        finally:
            await nc.close()

    return asyncio.run(go())


def test_nats_killed_and_restarted_everything_reconnects_and_mail_is_sent_once(
    system, resend
) -> None:
    system.subscribe("KO")
    assert wait_until(lambda: _quote_reaches_nats(system, "KO", 701.0), 90, "a quote before")

    # Queued before the kill: Resend is down, so it sits in the EMAIL stream (file storage).
    resend.set_down(True)
    queued = _email(system, "queued-before-kill", "before@example.com")
    assert queued.status_code == 202, queued.text
    resend.wait_requests(1, timeout=30)  # the notifier tried and will retry
    system.nats.kill()

    # Requested while NATS is down: refused with 503 (retry), never accepted and lost.
    during = _email(system, "requested-while-down", "during@example.com")
    assert during.status_code == 503, during.text
    assert during.json()["code"]

    system.nats.start(wait=True)
    resend.set_down(False)
    for url in (system.bridge_url, system.screener_url, system.notifier_url, system.web_url):
        wait_until(lambda url=url: ready(url), 120, f"{url}/readyz after the restart")
    # The caller's retry after the outage is accepted (same key → one email).
    retried = wait_until(
        lambda: (
            (r := _email(system, "requested-while-down", "during@example.com")).status_code
            in (200, 202)
            and r
        ),
        60,
        "the email request accepted again",
    )
    assert retried.status_code in (200, 202)
    wait_until(lambda: resend.sent_to("before@example.com"), 90, "the email queued before")
    wait_until(lambda: resend.sent_to("during@example.com"), 90, "the email retried after")
    # Streaming resumed through the new NATS connection.
    assert wait_until(lambda: _quote_reaches_nats(system, "KO", 702.0), 120, "a quote after")
    # Nothing left to send or redeliver: a duplicate would have been sent by now.
    wait_until(lambda: email_queue_idle(system.nats_url), 60, "the notifier's queue empty")
    assert len(resend.sent_to("before@example.com")) == 1
    assert len(resend.sent_to("during@example.com")) == 1
    assert system.worker is not None and system.worker.running


def test_an_order_filled_while_nats_is_down_reaches_the_web_after_it_returns(system) -> None:
    """IBKR events survive a NATS outage: the bridge holds them and JetStream delivers them."""
    client = login(system)
    system.control("/control/fill-mode", {"mode": "never"})
    try:
        coid = sell_put_from_web(client, system, "PG")
        wait_until(lambda: sim_orders(system, coid), 60, "the order at tws-sim")

        def status() -> str:
            return WebState(system).order_status(coid)

        def fills_via_nats() -> list[tuple[str]]:
            return [
                (e["exec_id"],)
                for e in WebState(system).executions()
                if e["client_order_id"] == coid and e["source"] == "nats"
            ]

        wait_until(lambda: status() == "submitted", 60, "the order submitted")
        system.nats.kill()
        # IB fills it while the bus is down: the bridge sees the fill and cannot publish it.
        system.control("/control/fill-mode", {"mode": "immediate"})
        wait_until(
            lambda: sim_orders(system, coid)[0]["status"] == "Filled", 30, "the fill at tws-sim"
        )
        assert fills_via_nats() == [] and status() == "submitted"
        system.nats.start(wait=True)
        wait_until(fills_via_nats, 120, "the fill in the web's ledger after NATS returns")
        wait_until(lambda: status() == "filled", 60, "the order filled in the web")
        assert len(fills_via_nats()) == 1
        assert system.worker is not None and system.worker.running
    finally:
        system.control("/control/fill-mode", {"mode": "cross"})
        client.close()


def test_no_secret_value_in_any_log_line(system) -> None:
    """Runs last in this module: every process has logged logins, emails, faults by now."""
    secrets = {
        "internal token": system.env["INTERNAL_API_TOKEN"],
        "Resend key": system.notifier.env["RESEND_API_KEY"],
        "demo password": system.password,
    }
    for proc in system.procs:
        text = proc.log_text()
        assert text, f"{proc.name} wrote no log"
        for name, value in secrets.items():
            assert value not in text, f"the {name} appears in {proc.name}'s log"
