"""Waiting for a condition instead of sleeping: the one pair of poll loops every suite imports.

`wait_until` (plain code) and `await_until` (inside an event loop, where a blocking sleep would
stall the very thing being waited for) poll `check` until it returns something truthy and return
that. A check that raises counts as "not yet" (a service still starting, a row not written
yet); on timeout the AssertionError names what was awaited and the last value or error seen.
`email_queue_idle` is the condition "the notifier holds no email": used by the whole-system tests
and the notifier's restart tests alike.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

import nats
from wheeldesk import subjects


def _timed_out(what: str, check: Callable[[], Any], last: Any) -> AssertionError:
    return AssertionError(f"timed out waiting for {what or check}: last={last!r}")


def wait_until(
    check: Callable[[], Any], timeout: float = 60.0, what: str = "", *, interval: float = 0.1
) -> Any:
    """Poll `check()` every `interval` seconds until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except Exception as exc:  # not ready yet: keep polling, report it on timeout
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise _timed_out(what, check, last)
        time.sleep(interval)


async def await_until(
    check: Callable[[], Any], timeout: float = 30.0, what: str = "", *, interval: float = 0.05
) -> Any:
    """`wait_until` for async code; `check` may return an awaitable (a coroutine function)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
            if inspect.isawaitable(last):
                last = await last
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise _timed_out(what, check, last)
        await asyncio.sleep(interval)


def email_queue_idle(nats_url: str) -> bool:
    """True when the notifier's EMAIL stream holds no email waiting or unacked: after this
    nothing can be redelivered (and so nothing sent again)."""

    async def go() -> bool:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            stream = await js.stream_info(subjects.STREAM_EMAIL)
            info = await js.consumer_info(subjects.STREAM_EMAIL, "notifier")
            return (
                stream.state.messages == 0 and info.num_pending == 0 and info.num_ack_pending == 0
            )
        finally:
            await nc.close()

    return asyncio.run(go())
