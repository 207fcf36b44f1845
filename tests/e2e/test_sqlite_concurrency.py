"""The web and the worker writing one SQLite file at the same time: no "database is locked".

Two real Django processes on the real settings (WAL, immediate transactions, busy timeout), each
doing what its side does — the worker recording fills (read, then write, in one transaction),
the web saving sessions and updating a user — flat out for a bounded time. Every write they
report done must be in the file afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from wheeldesk_testing.procs import ROOT, TEST_TOKEN

MANAGE = ROOT / "services" / "web" / "manage.py"
SECONDS = 20

WORKER = textwrap.dedent(
    """
    import time
    from datetime import UTC, datetime
    from django.db import transaction
    FILLED = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)  # filler rows: any fixed moment
    from wheeldesk_web.ledger.models import Execution
    done, end = 0, time.monotonic() + {seconds}
    while time.monotonic() < end:
        with transaction.atomic():
            n = Execution.objects.filter(symbol="PEP").count()  # read, then write
            Execution.objects.create(
                exec_id=f"w.{{done}}", time=FILLED, symbol="PEP", sec_type="STK",
                side="BOT", quantity=1, price=100 + n % 7, multiplier=1,
            )
        done += 1
    print("DONE", done)
    """
)

WEB = textwrap.dedent(
    """
    import time
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import transaction
    from datetime import UTC, datetime
    User = get_user_model()
    SEEN = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)  # a write to contend for the lock
    user, _ = User.objects.get_or_create(username="sqlite-e2e")
    done, end = 0, time.monotonic() + {seconds}
    while time.monotonic() < end:
        session = SessionStore()
        session["n"] = done
        session.save()
        with transaction.atomic():
            u = User.objects.select_for_update().get(pk=user.pk)
            u.last_login = SEEN
            u.first_name = str(done)
            u.save(update_fields=["last_login", "first_name"])
        done += 1
    print("DONE", done)
    """
)

COUNT = textwrap.dedent(
    """
    from django.contrib.sessions.models import Session
    from wheeldesk_web.ledger.models import Execution
    print("COUNT", Execution.objects.filter(symbol="PEP").count(), Session.objects.count())
    """
)


def _env(workdir: Path) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'web.sqlite3'}",
        "DATA_DIR": str(workdir / "web"),
        "INTERNAL_API_TOKEN": TEST_TOKEN,
        "DEMO_MODE": "true",
        "LOG_FORMAT": "text",
        "NATS_URL": "nats://127.0.0.1:1",
    }


def _shell(env: dict[str, str], code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(MANAGE), "shell", "-c", code],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_web_and_worker_write_sqlite_at_once_without_locking() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="wd-sqlite-"))
    env = _env(workdir)
    subprocess.run(
        [sys.executable, str(MANAGE), "migrate", "--noinput", "-v", "0"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    procs = [
        _shell(env, WORKER.format(seconds=SECONDS)),
        _shell(env, WEB.format(seconds=SECONDS)),
        _shell(env, WORKER.format(seconds=SECONDS).replace('f"w.', 'f"v.')),
    ]
    outputs = [p.communicate(timeout=SECONDS + 120)[0] for p in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert "database is locked" not in out, out[-3000:]
        assert proc.returncode == 0, out[-3000:]
    done = [int(out.split("DONE")[-1].split()[0]) for out in outputs]
    assert all(n > 0 for n in done), done
    counted = subprocess.run(
        [sys.executable, str(MANAGE), "shell", "-c", COUNT],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    executions, sessions = (int(x) for x in counted.split("COUNT")[-1].split()[:2])
    assert executions == done[0] + done[2], (executions, done)
    assert sessions == done[1], (sessions, done)
