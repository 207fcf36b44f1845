"""The worker's JetStream consumers: executions into the ledger, order events onto orders.

Durable pull consumers, so events published while the worker was down are read
when it returns; a message is acked only after it is stored. Malformed payloads
and fills outside sane bounds (`ledger.validation`) are logged and acked (skipped) —
retrying them would never succeed.
"""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from wheeldesk import subjects
from wheeldesk.natsconn import connect, ensure_streams
from wheeldesk.schemas.orders import ExecutionEvent, OrderEvent

from wheeldesk_web.ledger.validation import InvalidFill

log = logging.getLogger(__name__)

CONSUMERS = {
    "web-ledger-executions": f"{subjects.EXECUTION_PREFIX}.>",
    "web-orders": f"{subjects.ORDER_PREFIX}.>",
}


def handle(subject: str, data: bytes) -> None:
    """Store one event (sync: runs in a thread with its own DB connection)."""
    from wheeldesk_web.ledger.services import record_fills
    from wheeldesk_web.orders.state import apply_order_event

    close_old_connections()
    if subject.startswith(subjects.EXECUTION_PREFIX + "."):
        record_fills([ExecutionEvent.model_validate_json(data).fill], "nats")
    elif subject.startswith(subjects.ORDER_PREFIX + "."):
        event = OrderEvent.model_validate_json(data)
        if event.fill is not None:
            record_fills([event.fill], "nats")
        apply_order_event(event.order)


async def consume(nats_url: str, stop: asyncio.Event) -> None:
    nc = await connect(nats_url, name="wheeldesk-web-worker")
    js = nc.jetstream()
    await ensure_streams(js, [subjects.STREAM_IBKR])
    subs = []
    for durable, subject in CONSUMERS.items():
        config = ConsumerConfig(
            durable_name=durable,
            filter_subject=subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=20,
            ack_wait=30,
        )
        subs.append(
            await js.pull_subscribe(
                subject, durable=durable, stream=subjects.STREAM_IBKR, config=config
            )
        )
    run = sync_to_async(handle, thread_sensitive=True)
    try:
        while not stop.is_set():
            for sub in subs:
                try:
                    msgs = await sub.fetch(50, timeout=1)
                except TimeoutError:
                    continue
                except Exception as exc:  # reconnecting: nats-py raises its own timeouts too
                    log.debug("fetch: %s", exc)
                    await asyncio.sleep(0.5)
                    continue
                for msg in msgs:
                    try:
                        await run(msg.subject, msg.data)
                    except ValidationError as exc:
                        log.warning("skipping malformed %s: %s", msg.subject, exc.errors()[:1])
                    except InvalidFill as exc:
                        # out of sane bounds (a poisoned or corrupt message): never stored
                        log.warning("skipping invalid %s: %s", msg.subject, exc)
                    except Exception:
                        log.exception("storing %s failed; will be redelivered", msg.subject)
                        await msg.nak(delay=2)
                        continue
                    await msg.ack()
    finally:
        try:
            await nc.close()
        except Exception as exc:  # the server may already be gone (shutdown order)
            log.debug("closing NATS: %s", exc)
