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
import textwrap
import threading

import httpx
import pytest
from deploy_helpers import compose_model
from wheeldesk_testing.procs import ROOT, TEST_TOKEN, service_proc

pytestmark = pytest.mark.slow
MANAGE = ROOT / "services" / "web" / "manage.py"

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
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='wheeldesk_web.settings';"
            "django.setup(); from django.db import connection; print(connection.vendor)",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.stdout.strip().splitlines()[-1] == "postgresql", probe.stderr
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


def audit_counts(stack, coid: str) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """The order's audit trail: how many sends, duplicates and confirms, and the output."""
    audit = stack.manage(
        "shell",
        "-c",
        "from wheeldesk_web.orders.models import OrderAudit;"
        f"a = OrderAudit.objects.filter(client_order_id={coid!r});"
        "print(a.filter(action='send').count(), a.filter(action='duplicate').count(),"
        " a.filter(action='confirm').count())",
    )
    sends, duplicates, confirms = audit.stdout.strip().splitlines()[-1].split()
    return sends, duplicates, confirms


def database_vendor(stack) -> str:  # type: ignore[no-untyped-def]
    vendor = stack.manage(
        "shell", "-c", "from django.db import connection; print(connection.vendor)"
    )
    return vendor.stdout.strip().splitlines()[-1]


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
        sends, duplicates, confirms = audit_counts(stack, coid)
        assert (sends, confirms) == ("1", "2"), (sends, duplicates, confirms)
        assert duplicates == "1", (sends, duplicates, confirms)
        assert database_vendor(stack) == "postgresql"
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
SEED = textwrap.dedent(
    """
    from datetime import UTC, date, datetime, timedelta
    from django.contrib.auth import get_user_model
    from wheeldesk.schemas.orders import Fill
    from wheeldesk_web.ledger.services import record_fills
    from wheeldesk_web.orders.models import Order
    get_user_model().objects.create_user("wheel", "wheel@example.com", "pw-123456-xyz")
    at = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)
    for i in range(20):
        Order.objects.create(client_order_id=f"move-{i:04d}", symbol="KO", action="SELL",
            quantity=1, expiry=date(2026, 7, 17), strike=60, right="P", limit_price="1.10",
            status="filled")
        record_fills([Fill(exec_id=f"0000e0d6.{i:08d}.01.01", client_order_id=f"move-{i:04d}",
            time=at + timedelta(minutes=i), symbol="KO", sec_type="OPT", expiry=date(2026, 7, 17),
            strike=60.0, right="P", multiplier=100, side="SLD", quantity=1, price=1.10,
            commission=0.65)], "nats")
    """
)
COUNTS = (
    "from django.contrib.auth import get_user_model; from wheeldesk_web.ledger.models import"
    " Execution, WheelCycle; from wheeldesk_web.orders.models import Order;"
    " print(get_user_model().objects.count(), Order.objects.count(), Execution.objects.count(),"
    " WheelCycle.objects.count(), sorted(Execution.objects.values_list('exec_id', flat=True))[-1])"
)


@pytest.mark.timeout(600)
def test_moving_from_sqlite_to_postgresql_keeps_every_row(postgres_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """docs/deploy.md's move, done: dumpdata from SQLite, migrate + loaddata into PostgreSQL."""
    docs = (ROOT / "docs" / "deploy.md").read_text()
    for name in DUMP_EXCLUDES:
        assert f"--exclude {name}" in docs, name
    base = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "INTERNAL_API_TOKEN": TEST_TOKEN,
        "DEMO_MODE": "true",
        "LOG_FORMAT": "text",
    }
    base.pop("DJANGO_SETTINGS_MODULE", None)
    sqlite = {**base, "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}"}
    pg = {**base, "DATABASE_URL": postgres_server.create_database("wd_moved")}

    def manage(env: dict[str, str], *args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(MANAGE), *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    manage(sqlite, "migrate", "--noinput", "-v", "0")
    manage(sqlite, "shell", "-c", SEED)
    before = manage(sqlite, "shell", "-c", COUNTS).strip().splitlines()[-1]
    assert before.startswith("1 20 20 ")
    dump = tmp_path / "wheeldesk.json"
    excludes = [arg for name in DUMP_EXCLUDES for arg in ("--exclude", name)]
    manage(sqlite, "dumpdata", "--natural-foreign", "--natural-primary", *excludes, "-o", str(dump))
    manage(pg, "migrate", "--noinput", "-v", "0")
    manage(pg, "loaddata", str(dump))
    assert manage(pg, "shell", "-c", COUNTS).strip().splitlines()[-1] == before
