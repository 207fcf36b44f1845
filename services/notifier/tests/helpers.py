"""Small waits shared by the notifier tests (conditions, never fixed sleeps)."""

from __future__ import annotations

import asyncio

import httpx
import nats
from wheeldesk import subjects
from wheeldesk_testing.waits import email_queue_idle, wait_until


def wait_status(client: httpx.Client, email_id: str, status: str, timeout: float = 30.0) -> dict:
    def check() -> dict | None:
        r = client.get(f"/v1/emails/{email_id}")
        return r.json() if r.status_code == 200 and r.json()["status"] == status else None

    return wait_until(check, timeout, f"email {email_id} {status}", interval=0.05)


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
    wait_until(lambda: email_queue_idle(nats_url), timeout, "the EMAIL stream drained")
