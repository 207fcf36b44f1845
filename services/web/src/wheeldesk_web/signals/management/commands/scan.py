"""`manage.py scan`: run the screener over a watchlist and store signals and rejections."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from wheeldesk_web.core import clients
from wheeldesk_web.signals.models import ScanRun
from wheeldesk_web.signals.services import ScanError, create_scan, execute_scan


class Command(BaseCommand):
    help = "Scan a user's default watchlist (or --symbols) and store the signals and rejections."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--user", default="", help="Username (default: the first user).")
        parser.add_argument("--symbols", default="", help="Comma-separated; default: watchlist.")

    def handle(self, *args, user: str = "", symbols: str = "", **options) -> None:  # type: ignore[no-untyped-def]
        users = get_user_model().objects.order_by("pk")
        owner = users.filter(username=user).first() if user else users.first()
        if user and owner is None:
            raise CommandError(f"no user named {user!r}")
        for name, client in (
            ("screener", clients.screener()),
            ("gateway-bridge", clients.bridge()),
        ):
            with client:
                ready = client.ready()
            if ready.get("status") != "ready":
                raise CommandError(
                    f"{name} not ready: {ready.get('reason') or ready.get('status')}"
                )
        wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()] or None
        try:
            run = create_scan(owner, trigger="command", symbols=wanted)
        except ScanError as exc:
            raise CommandError(str(exc)) from exc
        if run.status == ScanRun.RUNNING and not run.progress.startswith("Queued"):
            raise CommandError(f"scan {run.pk} is already running")
        run = execute_scan(run)
        if run.status != ScanRun.DONE:
            raise CommandError(f"scan failed: {run.error}")
        held = f" (held, not on the watchlist: {', '.join(run.held_symbols)})"
        self.stdout.write(
            f"scan {run.pk}: {run.signal_count} signals, {run.rejection_count} rejected, "
            f"{run.error_count} errors over {len(run.symbols)} symbols"
            + (held if run.held_symbols else "")
        )
