"""The worker's schedule: sync every 5 min while the market is open, and scan on each user's
schedule from Settings ("Scheduled scans" at their New York times on market days); an
interval scan of the first user's watchlist (`--scan-every`) is there for soaks and demos.

`Worker.tick(now)` is one pass with an injected clock, so tests decide what time it
is; the management command calls it in a loop. Emails pending from a previous run
(a worker killed mid-send) are flushed first, with their original idempotency keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.management import call_command
from django.core.management.base import CommandError

from wheeldesk_web.alerts import emails
from wheeldesk_web.alerts.models import WorkerState
from wheeldesk_web.core.schedule import EASTERN as NY
from wheeldesk_web.core.schedule import market_open

log = logging.getLogger(__name__)


def run_command(name: str, *args: str) -> bool:
    """Run one of the web's management commands (`scan`, `sync_ibkr`); False if it failed."""
    try:
        call_command(name, *args)
    except (CommandError, SystemExit) as exc:
        log.warning("%s failed: %s", name, exc)
        return False
    except Exception:
        log.exception("%s crashed", name)
        return False
    return True


DISCOVER_EVERY = timedelta(hours=20)


def _saved_discoveries() -> int:
    """The saved discoveries on the schedule (discover app): how many ran (0 if it failed)."""
    from wheeldesk_web.discover.services import run_scheduled

    try:
        return len(run_scheduled())
    except Exception:
        log.exception("saved discoveries crashed")
        return 0


def scheduled_due(times: list[str], now: datetime, done: list[str]) -> str | None:
    """The latest of today's scan times (HH:MM, New York) that has come and is not done.

    A worker that was down at 09:45 scans once when it is back, not once per missed time.
    """
    local = now.astimezone(NY)
    come = [t for t in sorted(times) if local.strftime("%H:%M") >= t]
    if not come:
        return None
    latest = f"{local:%Y-%m-%d} {come[-1]}"
    return None if latest in done else latest


@dataclass
class Worker:
    scan_every: timedelta | None = timedelta(minutes=15)
    sync_every: timedelta = timedelta(minutes=5)
    ignore_hours: bool = False
    scan: Callable[[], bool] = field(default=lambda: run_command("scan"))
    scan_user: Callable[[str], bool] = field(
        default=lambda username: run_command("scan", "--user", username)
    )
    sync: Callable[[], bool] = field(default=lambda: run_command("sync_ibkr"))
    discover: Callable[[], int] = field(default=lambda: _saved_discoveries())
    bridge_factory: Callable | None = None
    notifier_factory: Callable | None = None

    def _clients(self):  # type: ignore[no-untyped-def]
        from wheeldesk_web.core import clients

        bridge = (self.bridge_factory or clients.bridge)()
        notifier = (self.notifier_factory or clients.notifier)()
        return bridge, notifier

    def _due(self, name: str, every: timedelta, now: datetime) -> bool:
        last = WorkerState.get("jobs").get(name)
        return last is None or now - datetime.fromisoformat(last) >= every - timedelta(seconds=1)

    def _mark(self, name: str, now: datetime) -> None:
        jobs = WorkerState.get("jobs")
        jobs[name] = now.isoformat()
        WorkerState.put("jobs", jobs)

    def _scheduled(self, now: datetime) -> list[str]:
        """Users whose Settings schedule a scan now; each time runs once a day (kept in
        WorkerState, so a restart does not scan twice)."""
        from wheeldesk_web.preferences.models import UserConfig

        state = WorkerState.get("scheduled")
        due = []
        for config in UserConfig.objects.filter(
            scan_enabled=True, user__is_active=True
        ).select_related("user"):
            name = config.user.get_username()
            latest = scheduled_due(config.scan_time_list(), now, state.get(name, []))
            if latest is None:
                continue
            state[name] = [d for d in state.get(name, []) if d[:10] == latest[:10]] + [latest]
            due.append(name)
        if due:
            WorkerState.put("scheduled", state)
        return due

    def recover(self) -> int:
        """Send what a killed worker had decided to send (same keys: no duplicates)."""
        _, notifier = self._clients()
        return emails.flush(notifier)

    def tick(self, now: datetime) -> list[str]:
        """One pass; returns what it did (outside market hours: only send pending emails)."""
        bridge, notifier = self._clients()
        if not (self.ignore_hours or market_open(now)):
            # Emails kept during a notifier outage (a password reset) wait for no market.
            sent = emails.flush(notifier)
            return [f"emailed {sent}"] if sent else []
        done: list[str] = []
        if self._due("sync", self.sync_every, now):
            self._mark("sync", now)
            if self.sync():
                done.append("sync")
            self._after_sync(bridge, now)
        from wheeldesk_web.orders.reprice import run_due

        # Every pass, after the sync: orders opted into an automatic re-price, when due.
        if repriced := run_due(bridge, now):
            done.append(f"re-priced {repriced}")
        if self.scan_every is not None and self._due("scan", self.scan_every, now):
            self._mark("scan", now)
            if self.scan():
                done.append("scan")
        for username in self._scheduled(now):
            if self.scan_user(username):
                done.append(f"scheduled scan {username}")
        if self._due("discover", DISCOVER_EVERY, now) and (n := self.discover()):
            self._mark("discover", now)  # saved discoveries: once a trading day
            done.append(f"discovered {n}")
        # Every pass, not only after its own scans: a scan a user ran from the page is
        # emailed too. Only signals never emailed go out, so this is cheap and once-only.
        if emails.queue_signal_digests():
            done.append("digest")
        sent = emails.flush(notifier)
        if sent:
            done.append(f"emailed {sent}")
        return done

    def _after_sync(self, bridge, now: datetime) -> None:  # type: ignore[no-untyped-def]
        from wheeldesk.clients import ServiceCallError

        from wheeldesk_web.ledger.services import backfill, sync_positions
        from wheeldesk_web.orders.state import sync_working

        # Executions the NATS consumer never saw: an expiry settling (or a fill) while the
        # bridge was reconnecting to IBKR is not published, but IBKR still lists it. Stored
        # by exec id, so what the consumer already has is not stored twice.
        try:
            added = backfill(bridge)
        except ServiceCallError as exc:
            log.info("execution backfill skipped: %s", exc.message)
        else:
            if added:
                log.info("backfilled %d execution(s) the event stream did not carry", added)
        # The account's positions, for the ledger's reconciliation (and its opening lots at
        # the first sync); after the backfill, so fills already made are in the ledger.
        try:
            sync_positions(bridge.positions(), now)
        except ServiceCallError as exc:
            log.info("positions not reconciled with the ledger: %s", exc.message)
        sync_working(bridge)  # the one reconciliation of orders with the bridge
        emails.queue_order_fills()
        emails.check_connection(bridge, now)
        emails.check_expiring_itm(bridge, now.date())
