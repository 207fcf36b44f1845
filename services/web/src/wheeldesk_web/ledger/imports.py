"""A large Flex import stored in the background, with progress the ledger page polls.

The file is read and checked in the request (a file that cannot be imported is refused at
once, nothing stored); a report of one batch or less (`services.BATCH`) is stored there too.
A larger one is stored on a thread of the web process, as a manual scan is run
(`signals.services.start_in_background`): the request answers at once, a `FlexImport` row
counts the trades stored batch by batch, and the ledger page polls it with htmx until it
says done. Each batch is its own short write transaction, so other users' writes go in
between. A thread stopped with its process (a restart) cannot say so: its row keeps a
`heartbeat`, refreshed by every batch, and a running import silent for `STALE_AFTER` is
marked failed when the ledger page next looks (`abandon_stale`), saying how far it got.
Importing the file again completes it: the trades already stored are recognised.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone

from wheeldesk_web.ledger import services
from wheeldesk_web.ledger.flex import FlexRecord
from wheeldesk_web.ledger.models import FlexImport

log = logging.getLogger(__name__)

# No batch (nor one ticker's cycle rebuild) takes near this long: silence means the process
# running the import stopped.
STALE_AFTER = timedelta(minutes=5)
AGAIN = "import the file again to complete it (the trades already stored are recognised)"


def summary(total: int, added: int) -> str:
    """What the user is told once a report is stored."""
    return f"Imported {added} new trade(s) of {total} in the file ({total - added} known)."


def in_background(records: list[FlexRecord]) -> bool:
    return len(records) > services.BATCH


def start(records: list[FlexRecord], user: Any, filename: str) -> FlexImport:
    """Record the import and store it on a thread of its own; the page polls the row."""
    run = FlexImport.objects.create(
        user=user if user.is_authenticated else None,
        filename=filename[:200],
        total=len(records),
        stage="starting",
        heartbeat=timezone.now(),
    )
    start_in_background(run.pk, records)
    return run


def start_in_background(pk: int, records: list[FlexRecord]) -> None:
    threading.Thread(
        target=_thread_main, args=(pk, records), name=f"flex-import-{pk}", daemon=True
    ).start()


def _thread_main(pk: int, records: list[FlexRecord]) -> None:
    close_old_connections()
    try:
        run(pk, records)
    finally:
        connection.close()


def run(pk: int, records: list[FlexRecord]) -> None:
    """Store the records, counting each batch into the `FlexImport` row."""

    def progress(done: int, stage: str) -> None:
        FlexImport.objects.filter(pk=pk).update(
            processed=done, stage=stage, heartbeat=timezone.now()
        )

    try:
        total, added = services.store_flex(records, progress=progress)
    except Exception as exc:
        log.exception("Flex import %s stopped", pk)
        done = FlexImport.objects.filter(pk=pk).values_list("processed", flat=True).first() or 0
        FlexImport.objects.filter(pk=pk).update(
            status=FlexImport.FAILED,
            finished=timezone.now(),
            error=f"stopped after {done} of {len(records)} trades ({exc}); {AGAIN}"[:2000],
        )
        return
    FlexImport.objects.filter(pk=pk).update(
        status=FlexImport.DONE,
        finished=timezone.now(),
        processed=total,
        added=added,
        stage="",
    )


def abandon_stale(now: datetime | None = None) -> int:
    """Mark failed every running import whose process stopped (no batch for STALE_AFTER)."""
    now = now or timezone.now()
    stale = FlexImport.objects.filter(status=FlexImport.RUNNING, heartbeat__lt=now - STALE_AFTER)
    count = 0
    for run in stale:
        count += FlexImport.objects.filter(pk=run.pk, status=FlexImport.RUNNING).update(
            status=FlexImport.FAILED,
            finished=now,
            error=(
                f"stopped after {run.processed} of {run.total} trades (the web server "
                f"restarted during the import); {AGAIN}"
            ),
        )
    return count
