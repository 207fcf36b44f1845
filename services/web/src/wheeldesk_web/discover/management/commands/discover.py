"""`manage.py discover`: run the saved discoveries marked for the schedule (the worker calls it
once a trading day); new names get the wheel screen unless `--no-screen`."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from wheeldesk_web.discover.services import run_scheduled


class Command(BaseCommand):
    help = "Run the scheduled saved discoveries; the wheel screen on the ones with new names."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--no-screen", action="store_true", help="only record what IB ranks, no wheel screen"
        )

    def handle(self, *args, **opts) -> None:  # type: ignore[no-untyped-def]
        ran = run_scheduled(screen=not opts["no_screen"])
        for saved, new in ran:
            found = ", ".join(new) if new else "none"
            self.stdout.write(f"{saved.user.get_username()} · {saved.name}: new names {found}")
        self.stdout.write(f"{len(ran)} saved discover{'y' if len(ran) == 1 else 'ies'} run")
