"""Small waits shared by the notifier tests (conditions, never fixed sleeps)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import nats
from wheeldesk import subjects


def wait_status(client: httpx.Client, email_id: str, status: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        r = client.get(f"/v1/emails/{email_id}")
        last = r.json()
        if r.status_code == 200 and last["status"] == status:
            return last
        time.sleep(0.05)
    raise AssertionError(f"email {email_id} not {status} within {timeout}s: {last}")


def dead_letters(nats_url: str) -> list[bytes]:
    """Every message on the dead-letter stream EMAIL_DLQ."""

    async def read() -> list[bytes]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(subjects.STREAM_EMAIL_DLQ)
            out = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                if info.state.messages == 0:
                    break
                msg = await js.get_msg(subjects.STREAM_EMAIL_DLQ, seq)
                out.append(msg.data)
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def wait_drained(nats_url: str, timeout: float = 30.0) -> None:
    """Until the EMAIL stream is empty and its consumer holds nothing unacked: after this,
    nothing can be redelivered (and so nothing sent again)."""

    async def check() -> None:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            deadline = time.monotonic() + timeout
            while True:
                stream = await js.stream_info(subjects.STREAM_EMAIL)
                consumer = await js.consumer_info(subjects.STREAM_EMAIL, "notifier")
                if stream.state.messages == 0 and consumer.num_ack_pending == 0:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"EMAIL not drained: {stream.state}, {consumer}")
                await asyncio.sleep(0.1)
        finally:
            await nc.close()

    asyncio.run(check())
