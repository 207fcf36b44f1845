"""`manage.py worker`: sync every 5 min while the US options market is open, scan on each user's
schedule (Settings), persist executions and order events from NATS, and send the alerts users
asked for. `--scan-every 15m` adds an interval scan of the first user's watchlist."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from wheeldesk_web.core import backup
from wheeldesk_web.core.clock import broker_now
from wheeldesk_web.core.schedule import parse_every
from wheeldesk_web.worker.loop import Worker

log = logging.getLogger("wheeldesk_web.worker")


class Command(BaseCommand):
    help = "Run the scan/sync schedule, the NATS consumers and the email alerts."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--scan-every",
            default="off",
            help="Also scan the first user's watchlist this often (e.g. 15m); default off: "
            "scans follow each user's schedule in Settings.",
        )
        parser.add_argument("--sync-every", default="5m")
        parser.add_argument("--tick", type=float, default=15.0, help="Seconds between passes.")
        parser.add_argument("--ignore-hours", action="store_true", help="Act even when closed.")
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--now", help="Pretend it is this ISO time (tests, dry runs).")
        parser.add_argument("--no-nats", action="store_true", help="Do not consume NATS.")

    def handle(self, *args, **opts) -> None:  # type: ignore[no-untyped-def]
        from wheeldesk.logs import setup_logging

        from wheeldesk_web.config import SETTINGS

        setup_logging("web-worker", SETTINGS.log_level, SETTINGS.log_format)
        try:
            worker = Worker(
                scan_every=None
                if opts["scan_every"].strip().lower() == "off"
                else parse_every(opts["scan_every"]),
                sync_every=parse_every(opts["sync_every"]),
                ignore_hours=opts["ignore_hours"],
            )
            fixed = datetime.fromisoformat(opts["now"]) if opts["now"] else None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if fixed is not None and fixed.tzinfo is None:
            fixed = fixed.replace(tzinfo=UTC)

        def clock() -> datetime:
            return fixed or broker_now()

        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        consumer = None
        if not opts["no_nats"] and not opts["once"]:
            consumer = threading.Thread(
                target=_consume_forever, args=(SETTINGS.nats_url, stop), daemon=True
            )
            consumer.start()

        heartbeat = backup.heartbeat_path()
        backup.beat(heartbeat)
        if SETTINGS.backup_every_hours and backup.sqlite_database() is None:
            log.info("database backups: not SQLite, back it up with pg_dump (docs/deploy.md)")
        try:
            recovered = worker.recover()
            if recovered:
                log.info("sent %d email(s) left pending by a previous run", recovered)
            self._backfill(worker)
            while True:
                backup.beat(heartbeat)  # the healthcheck: the loop made a pass just now
                now = clock()
                did = worker.tick(now)
                if self._backup_due(SETTINGS):
                    self._backup(SETTINGS)  # logs its own line
                log.info(
                    "worker pass at %s: %s", now.isoformat(), ", ".join(did) or "nothing to do"
                )
                if opts["once"] or stop.wait(opts["tick"]):
                    break
        finally:
            # Stopped: no longer alive (and `restore_backup` may proceed).
            heartbeat.unlink(missing_ok=True)
        if consumer is not None:
            consumer.join(timeout=5)

    def _backup_due(self, settings) -> bool:  # type: ignore[no-untyped-def]
        """SQLite and backups on, and the newest backup older than BACKUP_EVERY_HOURS (by the
        files themselves, so a restarted worker keeps the rhythm)."""
        if not settings.backup_every_hours or backup.sqlite_database() is None:
            return False
        age = backup.newest_age(backup.backup_dir())
        return age is None or age >= settings.backup_every_hours * 3600 - 1

    def _backup(self, settings) -> None:  # type: ignore[no-untyped-def]
        db = backup.sqlite_database()
        try:
            path = backup.take_backup(db, backup.backup_dir(), keep=settings.backup_keep)  # type: ignore[arg-type]
        except (backup.BackupError, OSError) as exc:
            log.error("database backup failed: %s", exc)
            return
        log.info("database backed up to %s", path)

    def _backfill(self, worker: Worker) -> None:
        from wheeldesk.clients import ServiceCallError

        from wheeldesk_web.ledger.services import backfill

        try:
            bridge, _ = worker._clients()
            added = backfill(bridge)
            log.info("backfilled %d execution(s) from the bridge", added)
        except ServiceCallError as exc:
            log.warning("execution backfill skipped: %s", exc.message)


def _consume_forever(url: str, stop: threading.Event) -> None:
    from wheeldesk_web.worker.consumer import consume

    async def main() -> None:
        flag = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.5)
            flag.set()

        watcher = asyncio.create_task(watch())
        while not stop.is_set():
            try:
                await consume(url, flag)
            except Exception:
                log.exception("NATS consumer stopped; restarting")
                await asyncio.sleep(2)
        watcher.cancel()

    asyncio.run(main())
