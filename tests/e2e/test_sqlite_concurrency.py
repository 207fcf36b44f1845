"""The web and the worker writing one SQLite file at the same time: no "database is locked".

Three real Django processes on the real settings (WAL, immediate transactions, busy timeout), each
doing what its side does — two recording fills (read, then write, in one transaction), one saving
sessions and updating a user, as the web does — flat out for a bounded time. Every write they
report done must be in the file afterwards.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from wheeldesk_testing.in_web import manage, start_in_web, web_environ
from wheeldesk_testing.web_seeds import record_executions_for, save_sessions_for
from wheeldesk_testing.web_state import WebState

SECONDS = 20


@pytest.mark.slow
def test_web_and_worker_write_sqlite_at_once_without_locking() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="wd-sqlite-"))
    env = web_environ(
        f"sqlite:///{workdir / 'web.sqlite3'}", str(workdir / "web"), NATS_URL="nats://127.0.0.1:1"
    )
    manage(env, "migrate", "--noinput", "-v", "0", timeout=300)
    procs = [
        start_in_web(env, record_executions_for, seconds=SECONDS, prefix="w"),
        start_in_web(env, save_sessions_for, seconds=SECONDS),
        start_in_web(env, record_executions_for, seconds=SECONDS, prefix="v"),
    ]
    done = [p.result(timeout=SECONDS + 120) for p in procs]
    for proc in procs:
        assert "database is locked" not in proc.stderr, proc.stderr[-3000:]
    assert all(n > 0 for n in done), done
    web = WebState(env)
    executions, sessions = web.row_count("ledger.Execution"), web.row_count("sessions.Session")
    assert executions == done[0] + done[2], (executions, done)
    assert sessions == done[1], (sessions, done)
