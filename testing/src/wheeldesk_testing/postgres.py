"""A real PostgreSQL server for tests: Debian's `postgresql` package, initdb + pg_ctl in a
temporary directory on a free port (`make postgres` installs it, as `make browser` does Chromium).

Why a real server: `DATABASE_URL` accepts PostgreSQL, and the path a user takes when one SQLite
file is no longer enough must be proven by the same tests, on the same engine they will run.
PostgreSQL refuses to run as root, and CI runs as root: the cluster then belongs to `nobody`
(initdb and the server run under that uid; the test process talks to it over TCP).

Tuned for tests, not for data: fsync, full-page writes and synchronous commit are off (a crash
of the test machine loses nothing that matters), so a migrate and a test database are quick.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from wheeldesk_testing.procs import free_port

SUPERUSER = "postgres"


def pg_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl (Debian keeps them off PATH), or None."""
    for name in ("pg_ctl", "initdb"):
        found = shutil.which(name)
        if found and Path(found).resolve().parent.joinpath("initdb").exists():
            return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def available() -> bool:
    """Whether a PostgreSQL server can be started here (`make postgres` installs one)."""
    return pg_bindir() is not None


def _demote() -> tuple[Callable[[], None] | None, int | None]:
    """(preexec, uid) to run the server as `nobody` when we are root; (None, None) otherwise."""
    if os.geteuid() != 0:
        return None, None
    nobody = pwd.getpwnam("nobody")

    def drop() -> None:
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)

    return drop, nobody.pw_uid


class PostgresServer:
    """One cluster: `start()`, `create_database(name)` -> URL, `stop()` removes everything."""

    def __init__(self, port: int | None = None) -> None:
        bindir = pg_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed: run `make postgres`")
        self.bindir = bindir
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="wd-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log = self.root / "server.log"
        self._preexec, self._uid = _demote()

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(
            argv,
            preexec_fn=self._preexec,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed: {result.stderr}\n{result.stdout}\n{log}")
        return result

    def start(self) -> PostgresServer:
        self.socket_dir.mkdir()
        if self._uid is not None:
            for path in (self.root, self.socket_dir):
                os.chown(path, self._uid, -1)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
            " -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A fresh, empty database; its DATABASE_URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):  # already gone: nothing to stop
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
