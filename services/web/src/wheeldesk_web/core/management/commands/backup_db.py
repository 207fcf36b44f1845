"""`manage.py backup_db`: one online backup of the SQLite database now (the worker takes them on
a schedule; this is for before an upgrade, or from cron/Coolify's scheduled tasks)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from wheeldesk_web.core import backup


class Command(BaseCommand):
    help = "Copy the live SQLite database into the backup directory (safe while it is in use)."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--dir", type=Path, help="Backup directory (default: BACKUP_DIR).")
        parser.add_argument("--keep", type=int, help="Newest backups kept (default: BACKUP_KEEP).")

    def handle(self, *args, **opts) -> None:  # type: ignore[no-untyped-def]
        from wheeldesk_web.config import SETTINGS

        db = backup.sqlite_database()
        if db is None:
            raise CommandError(
                "DATABASE_URL is not SQLite: back PostgreSQL up with pg_dump (docs/deploy.md)"
            )
        keep = opts["keep"] if opts["keep"] is not None else SETTINGS.backup_keep
        if keep < 1:
            raise CommandError("--keep must be at least 1")
        try:
            path = backup.take_backup(db, opts["dir"] or backup.backup_dir(), keep=keep)
        except (backup.BackupError, OSError) as exc:
            raise CommandError(f"backup failed: {exc}") from exc
        self.stdout.write(f"backup written: {path} ({path.stat().st_size} bytes)")
