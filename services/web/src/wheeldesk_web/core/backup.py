"""Online SQLite backups and their restore: the ledger, orders and settings live in one file.

A backup uses SQLite's backup API in one step: it reads a consistent snapshot inside one read
transaction while the web and the worker keep writing (WAL mode lets writers go on), so a
backup never holds half an order or an execution without its order's update. Each copy is
written to `<name>.part`, checked with `PRAGMA integrity_check`, switched to a self-contained
rollback journal (no `-wal` beside it) and only then renamed into place, so the backup directory
never holds a torn file. The newest `keep` are kept.

A restore copies a backup over the live database with the same API (the web and worker may hold
connections: SQLite locks the file for the copy, and they read the restored data afterwards),
after saving the current database as `pre-restore-*.sqlite3`, so a wrong restore is undone by
restoring that file. It refuses a backup whose migrations this code does not know (a newer
version's file) and, unless forced, while the worker's heartbeat is fresh.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PREFIX = "wheeldesk-"
SUFFIX = ".sqlite3"
SAFETY_PREFIX = "pre-restore-"
HEARTBEAT_NAME = "worker.heartbeat"
# The worker writes its heartbeat every pass (15 s); a pass syncing a large account may take a
# few minutes. Older than this, the worker's loop is taken as stopped (healthcheck, restore).
HEARTBEAT_MAX_AGE = 300.0


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, for the operator."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int
    tables: dict[str, int]


def sqlite_database() -> Path | None:
    """The default database's file when it is SQLite, else None (PostgreSQL: use pg_dump)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":
        return None
    return Path(db["NAME"]).resolve()


def backup_dir() -> Path:
    """BACKUP_DIR, or `<DATA_DIR>/backups` when unset."""
    from wheeldesk_web.config import SETTINGS

    return Path(SETTINGS.backup_dir or (SETTINGS.data_dir / "backups")).resolve()


def heartbeat_path() -> Path:
    """Where the worker says it is alive: on the data volume, shared with web (restore reads it)."""
    from wheeldesk_web.config import SETTINGS

    return Path(SETTINGS.data_dir).resolve() / HEARTBEAT_NAME


def beat(path: Path) -> None:
    """Record that the worker's loop just made a pass (the healthcheck reads the file's age)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(datetime.now(UTC).isoformat() + "\n")


def heartbeat_age(path: Path) -> float | None:
    """Seconds since the worker's last pass, or None when it never ran here."""
    try:
        return max(0.0, time.time() - path.stat().st_mtime)
    except FileNotFoundError:
        return None


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _copy(src_path: Path, part: Path) -> None:
    """Snapshot `src_path` into `part`, verified and self-contained."""
    if part.exists():
        part.unlink()
    src = _connect(src_path)
    try:
        dst = _connect(part)
        try:
            src.backup(dst)  # pages=-1: the whole file inside one read transaction
            dst.execute("PRAGMA journal_mode=DELETE")
            (result,) = dst.execute("PRAGMA integrity_check").fetchone()
            if result != "ok":
                raise BackupError(f"the copy failed SQLite's integrity check: {result}")
        finally:
            dst.close()
    finally:
        src.close()
    with open(part, "rb") as fh:
        os.fsync(fh.fileno())


def _unique(directory: Path, stem: str) -> Path:
    path = directory / f"{stem}{SUFFIX}"
    n = 1
    while path.exists():
        path = directory / f"{stem}-{n}{SUFFIX}"
        n += 1
    return path


def take_backup(
    db: Path, directory: Path, *, keep: int, now: datetime | None = None, prefix: str = PREFIX
) -> Path:
    """Copy the live database into `directory` (online), rotate to the newest `keep`; the path."""
    if not db.exists():
        raise BackupError(f"no database at {db}")
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    final = _unique(directory, prefix + stamp)
    part = final.with_name(final.name + ".part")
    try:
        _copy(db, part)
        os.replace(part, final)
    finally:
        part.unlink(missing_ok=True)
    _fsync_dir(directory)
    rotate(directory, keep=keep, prefix=prefix)
    return final


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backups(directory: Path, prefix: str = PREFIX) -> list[Path]:
    """The finished backups in `directory`, oldest first: by the time they were written, then
    by name (their UTC timestamps; two in one second get `-1`, `-2`, ... suffixes)."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.glob(f"{prefix}*{SUFFIX}") if p.is_file()]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))


def rotate(directory: Path, *, keep: int, prefix: str = PREFIX) -> list[Path]:
    """Delete all but the newest `keep` backups (keep >= 1); the deleted paths."""
    found = backups(directory, prefix)
    doomed = found[: max(0, len(found) - max(1, keep))]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def newest_age(directory: Path) -> float | None:
    """Seconds since the newest backup was written, or None when there is none."""
    found = backups(directory)
    if not found:
        return None
    return max(0.0, time.time() - found[-1].stat().st_mtime)


def inspect(path: Path) -> BackupInfo:
    """Check a backup file before it replaces anything: SQLite, intact, a Wheeldesk database
    whose migrations this code knows. Row counts of the user's data, for the operator."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (result,) = conn.execute("PRAGMA integrity_check").fetchone()
            names = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if result != "ok":
                raise BackupError(f"{path}: failed SQLite's integrity check: {result}")
            if "django_migrations" not in names:
                raise BackupError(f"{path}: not a Wheeldesk database (no django_migrations)")
            applied = set(conn.execute("SELECT app, name FROM django_migrations").fetchall())
            tables = {
                t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                for t in ("orders_order", "ledger_execution", "auth_user")
                if t in names
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a readable SQLite database ({exc})") from exc
    unknown = sorted(applied - _known_migrations())
    if unknown:
        shown = ", ".join(f"{app}.{name}" for app, name in unknown[:5])
        raise BackupError(
            f"{path}: made by a newer Wheeldesk (migrations this version lacks: {shown});"
            " upgrade first, then restore"
        )
    return BackupInfo(path=path, size=path.stat().st_size, tables=tables)


def _known_migrations() -> set[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    return set(loader.disk_migrations)


def restore(path: Path, db: Path, *, safety_dir: Path, keep: int = 5) -> Path | None:
    """Replace the live database's content with the backup's; returns the pre-restore copy.

    The caller has checked the worker is stopped. Django's migrations run at the web's next
    start (an older backup is brought up to this version then).
    """
    inspect(path)
    saved = None
    if db.exists():
        saved = take_backup(db, safety_dir, keep=keep, prefix=SAFETY_PREFIX)
    db.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        dst = _connect(db)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
            (result,) = dst.execute("PRAGMA integrity_check").fetchone()
            if result != "ok":
                raise BackupError(
                    f"the restored database failed SQLite's integrity check: {result}"
                )
        finally:
            dst.close()
    finally:
        src.close()
    return saved
