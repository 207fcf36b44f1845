"""`manage.py restore_backup FILE`: put a backup back as the live SQLite database.

Stop the worker (and the web) first: the command refuses while the worker's heartbeat is fresh,
since a worker mid-pass would write on top of the restored data. The current database is saved
as `pre-restore-*.sqlite3` in the backup directory before anything is replaced.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from wheeldesk_web.core import backup


class Command(BaseCommand):
    help = "Restore the SQLite database from a backup file (stop web and worker first)."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("file", type=Path, help="A backup written by backup_db or the worker.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Restore even though the worker's heartbeat is fresh (it is not really running).",
        )

    def handle(self, *args, **opts) -> None:  # type: ignore[no-untyped-def]
        db = backup.sqlite_database()
        if db is None:
            raise CommandError(
                "DATABASE_URL is not SQLite: restore PostgreSQL with pg_restore (docs/deploy.md)"
            )
        source: Path = opts["file"].resolve()
        if source == db:
            raise CommandError("that file is the live database itself")
        age = backup.heartbeat_age(backup.heartbeat_path())
        if age is not None and age < backup.HEARTBEAT_MAX_AGE and not opts["force"]:
            raise CommandError(
                f"the worker made a pass {age:.0f} s ago: stop it (and the web) before restoring,"
                " e.g. `docker compose stop web worker`; --force if it is already stopped"
            )
        try:
            info = backup.inspect(source)
            saved = backup.restore(source, db, safety_dir=backup.backup_dir())
        except (backup.BackupError, OSError) as exc:
            raise CommandError(f"restore refused: {exc}") from exc
        counts = ", ".join(f"{n} {t}" for t, n in info.tables.items())
        self.stdout.write(f"restored {source} into {db} ({counts})")
        if saved is not None:
            self.stdout.write(f"the database it replaced is saved as {saved}")
        self.stdout.write("start the web next: it applies any newer migrations")
