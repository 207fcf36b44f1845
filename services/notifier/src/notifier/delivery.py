"""The JetStream consumer that sends each queued email exactly once (as far as anyone sees).

Exactly-once comes from three pieces working together:
- the message is acked only after the backend accepted it, so a crash before that
  redelivers it (nothing lost);
- the status record says `sent` before the ack, so a redelivery after a crash
  between the two is acked without sending;
- the crash between "Resend accepted" and "record written" is covered by Resend's
  own idempotency: the retry carries the same `Idempotency-Key` and gets the
  same email id back instead of a second email.

Retries are JetStream redeliveries (`nak` with a delay): the attempt number is the
message's delivery count, so the retry budget survives restarts too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

import nats.errors
from aiolimiter import AsyncLimiter
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from prometheus_client import Counter
from pydantic import ValidationError
from wheeldesk import subjects
from wheeldesk.natsconn import publish_event
from wheeldesk.schemas.email import EmailDeadLetter, EmailJob, EmailStatus

from notifier.backends import Backend, PermanentError, TransientError
from notifier.settings import NotifierSettings
from notifier.store import StatusStore

log = logging.getLogger(__name__)

CONSUMER = "notifier"

SENT = Counter("notifier_emails_sent_total", "Emails accepted by the backend", ["backend"])
RETRIED = Counter("notifier_emails_retried_total", "Send attempts that will be retried")
FAILED = Counter("notifier_emails_failed_total", "Emails given up on and dead-lettered")


def backoff(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with ±20% jitter; never sooner than the server's Retry-After."""
    delay = min(cap, base * 2 ** max(0, attempt - 1)) * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


async def ensure_consumer(js: JetStreamContext, settings: NotifierSettings) -> None:
    """Create the durable consumer, or update it so a changed EMAIL_ACK_WAIT takes effect."""
    config = ConsumerConfig(
        durable_name=CONSUMER,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.email_ack_wait,
        max_deliver=-1,  # we count attempts ourselves and dead-letter
        filter_subject=f"{subjects.EMAIL_PREFIX}.>",
        max_ack_pending=10_000,
    )
    try:
        await js.add_consumer(subjects.STREAM_EMAIL, config)
    except Exception as exc:
        await js.consumer_info(subjects.STREAM_EMAIL, CONSUMER)  # exists: keep it as it is
        log.warning("email consumer kept its old config (%s)", exc)


class Deliverer:
    def __init__(
        self,
        settings: NotifierSettings,
        js: JetStreamContext,
        store: StatusStore,
        backend: Backend,
    ) -> None:
        self.settings = settings
        self.js = js
        self.store = store
        self.backend = backend
        self.limiter = AsyncLimiter(settings.email_rate_limit, 1.0)
        self.pause_until = 0.0  # monotonic; set by a 429 for every sender, not just one
        self.stopping = False
        self.in_flight: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await ensure_consumer(self.js, self.settings)
        self.sub = await self.js.pull_subscribe_bind(CONSUMER, stream=subjects.STREAM_EMAIL)
        self._loop = asyncio.create_task(self._run(), name="email-delivery")

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._loop.done()

    async def stop(self) -> None:
        """Stop fetching; let in-flight emails finish within the grace period, nak the rest."""
        self.stopping = True
        if self._loop is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._loop, timeout=3.0)
        if self.in_flight:
            _, pending = await asyncio.wait(
                set(self.in_flight), timeout=self.settings.email_shutdown_grace
            )
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5.0)
        with contextlib.suppress(Exception):
            await self.sub.unsubscribe()
        with contextlib.suppress(Exception):
            await self.backend.aclose()

    async def _run(self) -> None:
        limit = self.settings.email_concurrency
        while not self.stopping:
            free = limit - len(self.in_flight)
            if free <= 0:
                await asyncio.wait(set(self.in_flight), return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                msgs = await self.sub.fetch(free, timeout=1.0)
            except nats.errors.TimeoutError:
                continue
            except Exception as exc:  # NATS reconnecting: the messages wait in the stream
                # some NATS errors have an empty str(): the type always says what happened
                log.warning("email fetch failed: %s", f"{type(exc).__name__}: {exc}".rstrip(": "))
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                task = asyncio.create_task(self._handle(msg))
                self.in_flight.add(task)
                task.add_done_callback(self.in_flight.discard)

    async def _handle(self, msg: Msg) -> None:
        try:
            await self._deliver(msg)
        except asyncio.CancelledError:
            # Shutdown took too long: hand it back now rather than after ack_wait.
            with contextlib.suppress(Exception):
                await asyncio.shield(msg.nak())
            raise
        except Exception:
            log.exception("email delivery crashed; message will be redelivered")
            with contextlib.suppress(Exception):
                await msg.nak(delay=self.settings.email_backoff_base)

    async def _deliver(self, msg: Msg) -> None:
        try:
            job = EmailJob.model_validate_json(msg.data)
        except ValidationError as exc:
            log.warning("malformed email job skipped (%s): %s", msg.subject, exc)
            await msg.term()
            return
        attempt = msg.metadata.num_delivered
        # Only a redelivery can find its email already sent or failed; a first delivery
        # skips the read (a round trip per email at full speed).
        status = (await self.store.get(job.id) if attempt > 1 else None) or EmailStatus(
            id=job.id, status="queued", to=job.to, subject=job.subject, created=job.ts
        )
        if status.status in ("sent", "failed"):
            log.info("email %s already %s; acking redelivery", job.id, status.status)
            await msg.ack()
            return
        if not await self._wait_turn(msg):
            await msg.nak()
            return
        try:
            provider_id = await self.backend.send(job)
        except TransientError as exc:
            await self._retry_or_fail(msg, job, status, attempt, str(exc), exc.retry_after)
            return
        except PermanentError as exc:
            await self._fail(msg, job, status, attempt, str(exc))
            return
        status.status, status.resend_id, status.attempts, status.reason = (
            "sent",
            provider_id,
            attempt,
            None,
        )
        await self.store.put(status)
        await msg.ack_sync(timeout=5.0)
        SENT.labels(self.backend.name).inc()
        log.info(
            "email %s sent (%s %s, attempt %d)", job.id, self.backend.name, provider_id, attempt
        )

    async def _wait_turn(self, msg: Msg) -> bool:
        """Honour a global Retry-After pause, then the rate limit. False if shutting down."""
        keepalive = max(1.0, self.settings.email_ack_wait / 3)
        while (wait := self.pause_until - time.monotonic()) > 0:
            if self.stopping:
                return False
            await asyncio.sleep(min(wait, keepalive, 1.0))
            await msg.in_progress()
        if self.stopping:
            return False
        await self.limiter.acquire()
        if self.stopping:
            return False
        await msg.in_progress()  # the send gets a full ack_wait before any redelivery
        return True

    async def _retry_or_fail(
        self,
        msg: Msg,
        job: EmailJob,
        status: EmailStatus,
        attempt: int,
        reason: str,
        retry_after: float | None,
    ) -> None:
        if attempt >= self.settings.email_max_attempts:
            await self._fail(
                msg, job, status, attempt, f"gave up after {attempt} attempts: {reason}"
            )
            return
        if retry_after is not None:
            self.pause_until = max(self.pause_until, time.monotonic() + retry_after)
        delay = backoff(
            attempt, self.settings.email_backoff_base, self.settings.email_backoff_max, retry_after
        )
        status.attempts = attempt
        status.reason = f"attempt {attempt} failed ({reason}); retrying in {delay:.1f}s"
        await self.store.put(status)
        await msg.nak(delay=delay)
        RETRIED.inc()
        log.warning("email %s: %s", job.id, status.reason)

    async def _fail(
        self, msg: Msg, job: EmailJob, status: EmailStatus, attempt: int, reason: str
    ) -> None:
        dead = EmailDeadLetter(id=job.id, reason=reason, attempts=attempt, job=job)
        await publish_event(self.js, subjects.EMAIL_DEAD_LETTER, dead, msg_id=f"dead-{job.id}")
        status.status, status.attempts, status.reason = "failed", attempt, reason
        await self.store.put(status)
        await msg.ack_sync(timeout=5.0)
        FAILED.inc()
        log.error("email %s failed and dead-lettered: %s", job.id, reason)
