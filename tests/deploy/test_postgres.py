"""The PostgreSQL path, proven: the web's order and ledger suites and two web processes confirming
one order, on a real PostgreSQL server (wheeldesk_testing.postgres), plus compose's `postgres`
profile. SQLite stays the default; this is the path docs/deploy.md describes for moving. The
order and ledger end-to-end tests (a browser on a whole stack; the order retries) run on both
databases where they are, through the `web_database` fixture."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import httpx
import pytest
from deploy_helpers import compose_model
from wheeldesk_testing.in_web import manage, run_in_web, start_in_web, web_environ
from wheeldesk_testing.procs import ROOT, service_proc
from wheeldesk_testing.web_seeds import ledger_rows_for, record_at_once, seed_filled_puts
from wheeldesk_testing.web_state import WebState

pytestmark = pytest.mark.slow

# The web suite's order and ledger tests, whatever files they are in (the browser ones need
# Chromium and a stack: `-m "not browser"` leaves them out here; they run on PostgreSQL in the
# main run, parametrised by `web_database`).
WEB_SUITE = sorted(
    str(p.relative_to(ROOT))
    for pattern in ("test_order_*.py", "test_ledger_*.py")
    for p in (ROOT / "services" / "web" / "tests").glob(pattern)
)
# A value SQLite stores in an integer column behind Django's back; PostgreSQL's types refuse the
# row itself, so the corruption that test recovers from cannot exist there.
SQLITE_ONLY = [
    "services/web/tests/test_ledger_reconcile.py::"
    "test_a_poisoned_stored_row_is_shown_invalid_and_pages_stay_200",
]


@pytest.mark.timeout(900)
def test_web_order_and_ledger_suites_pass_on_postgresql(postgres_server) -> None:  # type: ignore[no-untyped-def]
    assert len(WEB_SUITE) >= 8, WEB_SUITE
    env = {**os.environ, "DATABASE_URL": postgres_server.url("wheeldesk")}
    env.pop("PYTEST_CURRENT_TEST", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not browser",
            *WEB_SUITE,
            *(f"--deselect={node}" for node in SQLITE_ONLY),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
    )
    tail = result.stdout[-4000:]
    assert result.returncode == 0, tail
    # It really ran on PostgreSQL (pytest-django's test database on this server).
    assert WebState(env).database_vendor() == "postgresql"
    passed = int(re.search(r"(\d+) passed", tail).group(1))  # type: ignore[union-attr]
    assert passed >= 100, tail


def confirm_at_once(clients: dict[str, httpx.Client], coid: str, form: dict) -> dict[str, int]:
    """POST the same confirm through every client at the same moment; name -> status code."""
    barrier = threading.Barrier(len(clients))
    answers: dict[str, int] = {}

    def confirm(name: str, client: httpx.Client) -> None:
        barrier.wait()
        answers[name] = client.post(f"/orders/{coid}/confirm/", data=form).status_code

    threads = [threading.Thread(target=confirm, args=item) for item in clients.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    return answers


def audit_counts(web: WebState, coid: str) -> tuple[int, int, int]:
    """The order's audit trail: how many sends, duplicates and confirms."""
    sends, duplicates, confirms = (
        len(web.order_audits(coid, action)) for action in ("send", "duplicate", "confirm")
    )
    return sends, duplicates, confirms


@pytest.mark.timeout(600)
def test_two_web_processes_on_postgresql_confirming_one_order_place_exactly_one(
    postgres_server,  # type: ignore[no-untyped-def]
) -> None:
    """The same confirm POSTed at the same moment to two web processes sharing one PostgreSQL
    database: one claims the order (its conditional UPDATE), the other sees it taken; IBKR
    (tws-sim) receives one order and the audit trail shows one send. Then the order and ledger
    end to end on PostgreSQL: tws-sim fills it, the worker records it, the ledger opens the
    short-put cycle."""
    from wheeldesk_testing.e2e import (
        confirm_form,
        login,
        preview_put_from_web,
        sim_orders,
        start_worker,
        wait_until,
    )
    from wheeldesk_testing.stack import Stack

    url = postgres_server.create_database("wd_confirm_race")
    stack = Stack.start(web_env={"DATABASE_URL": url})
    second = service_proc("web", dict(stack.web.env))
    second.log_dir = stack.workdir
    second.log_path = stack.workdir / "web-2.log"
    worker = None
    try:
        second.start()
        stack.control("/control/fill-mode", {"mode": "immediate"})
        first_client = login(stack)
        coid, _ = preview_put_from_web(first_client, stack, "PEP")
        form = confirm_form(first_client, coid)
        # The same session (stored in PostgreSQL) on the second process.
        second_client = httpx.Client(
            base_url=second.url, cookies=first_client.cookies, timeout=120, follow_redirects=False
        )
        answers = confirm_at_once({"first": first_client, "second": second_client}, coid, form)
        assert answers == {"first": 302, "second": 302}, (answers, stack.logs())
        assert len(sim_orders(stack, coid)) == 1, sim_orders(stack, coid)
        web = WebState(stack)
        sends, duplicates, confirms = audit_counts(web, coid)
        assert (sends, confirms) == (1, 2), (sends, duplicates, confirms)
        assert duplicates == 1, (sends, duplicates, confirms)
        assert web.database_vendor() == "postgresql"
        # The order's fill reaches the ledger through the worker, on PostgreSQL as on SQLite.
        worker = start_worker(stack, "--ignore-hours", "--tick", "2", "--sync-every", "10s")

        def filled() -> bool:
            page = first_client.get(f"/orders/{coid}/status/", timeout=60).text
            return 'data-status="filled"' in page

        wait_until(filled, 120, "the order filled in the web")
        ledger = second_client.get("/ledger/?symbol=PEP", timeout=60).text
        row = re.search(r'<tr[^>]*data-symbol="PEP"[^>]*data-state="([a-z_]+)"', ledger)
        assert row and row.group(1) == "short_put", ledger[:2000]
        assert len(sim_orders(stack, coid)) == 1  # still one at IBKR
    finally:
        if worker is not None:
            worker.stop()
        second.stop()
        stack.stop()


@pytest.mark.timeout(600)
def test_two_writers_recording_the_same_executions_store_each_once_on_postgresql(
    postgres_server,  # type: ignore[no-untyped-def]
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """The worker's live fill and a Sync click record the same executions at the same moment.
    SQLite runs one write transaction at a time; PostgreSQL runs both, and each read "not
    stored yet": one failed on the unique exec id (a 500 on the Sync click) and a ticker's
    cycles could be stored twice. Each execution is stored once, each cycle once, no error."""
    env = web_environ(postgres_server.create_database("wd_ledger_race"), str(tmp_path / "data"))
    manage(env, "migrate", "--noinput")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    count = 40
    writers = [
        start_in_web(env, record_at_once, name=name, barrier_dir=str(barrier), count=count)
        for name in ("worker", "sync")
    ]
    created = [w.result(300) for w in writers]
    assert sum(created) == count, created
    rows = run_in_web(env, ledger_rows_for, symbol="KO")
    assert rows["executions"] == count, rows
    assert rows["cycles"] == rows["rebuilt"] >= 1, rows  # stored once: what a rebuild makes


def test_compose_postgres_profile() -> None:
    """`--profile postgres` adds a PostgreSQL server; web and worker use it once DATABASE_URL
    says so, and wait for it to be healthy. Without the profile nothing changes."""
    assert "postgres" not in compose_model()["services"]
    url = "postgres://wheeldesk:pw@postgres:5432/wheeldesk"
    env = {"WHEELDESK_DATABASE_URL": url, "POSTGRES_PASSWORD": "p" * 40}
    model = compose_model("postgres", env=env)
    pg = model["services"]["postgres"]
    assert pg["profiles"] == ["postgres"]
    assert re.match(r"postgres:\d+\.\d+-\w+@sha256:[0-9a-f]{64}$", pg["image"])
    assert "pg_isready" in pg["healthcheck"]["test"]
    assert {(v["source"], v["target"]) for v in pg["volumes"]} == {
        ("postgres-data", "/var/lib/postgresql/data")
    }
    assert pg["environment"]["POSTGRES_PASSWORD"] == "p" * 40
    assert set(pg["networks"]) == {"wheeldesk"} and not pg.get("ports")
    for name in ("web", "worker"):
        svc = model["services"][name]
        assert svc["environment"]["DATABASE_URL"] == url
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert svc["depends_on"]["postgres"]["required"] is False
    # Without the variable the web stays on SQLite, profile or not.
    default = compose_model("postgres", env={"POSTGRES_PASSWORD": "p" * 40})
    assert default["services"]["web"]["environment"]["DATABASE_URL"].startswith("sqlite:")


DUMP_EXCLUDES = [
    "contenttypes",
    "auth.permission",
    "sessions",
    "admin.logentry",
    "axes",
]
# What a move must keep: rows of every kind, counted, and the executions' own ids.
MOVED = ("auth.User", "orders.Order", "ledger.Execution", "ledger.WheelCycle")


def moved_rows(env: dict[str, str]) -> tuple[list[int], list[str]]:
    web = WebState(env)
    return [web.row_count(m) for m in MOVED], sorted(e["exec_id"] for e in web.executions())


@pytest.mark.timeout(600)
def test_moving_from_sqlite_to_postgresql_keeps_every_row(postgres_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """docs/deploy.md's move, done: dumpdata from SQLite, migrate + loaddata into PostgreSQL."""
    docs = (ROOT / "docs" / "deploy.md").read_text()
    for name in DUMP_EXCLUDES:
        assert f"--exclude {name}" in docs, name
    sqlite = web_environ(f"sqlite:///{tmp_path / 'web.sqlite3'}", str(tmp_path / "data"))
    pg = {**sqlite, "DATABASE_URL": postgres_server.create_database("wd_moved")}
    manage(sqlite, "migrate", "--noinput", "-v", "0", timeout=300)
    run_in_web(sqlite, seed_filled_puts, prefix="move", count=20)
    before = moved_rows(sqlite)
    assert before[0][:3] == [1, 20, 20], before
    dump = tmp_path / "wheeldesk.json"
    excludes = [arg for name in DUMP_EXCLUDES for arg in ("--exclude", name)]
    manage(
        sqlite,
        "dumpdata",
        "--natural-foreign",
        "--natural-primary",
        *excludes,
        "-o",
        str(dump),
        timeout=300,
    )
    manage(pg, "migrate", "--noinput", "-v", "0", timeout=300)
    manage(pg, "loaddata", str(dump), timeout=300)
    assert moved_rows(pg) == before
