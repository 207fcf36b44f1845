"""Pytest plugin (loaded with `-p wheeldesk_testing.fixtures`): real components on free ports."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from wheeldesk.markettime import BROKER_CLOCK

from wheeldesk_testing.moments import SIM_START
from wheeldesk_testing.procs import TEST_TOKEN, Proc, nats_proc, service_proc, tws_sim_proc

# The web's files (password-reset counters, uploads) of the Django code running inside this
# test process: a directory of its own, not the checkout's `var/` that `make run` uses, nor the
# one another pytest-xdist worker clears and counts in. Set before Django reads its settings.
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="wd-test-data-")


# `make test` runs on pytest-xdist workers. Each test file is one unit of work (its module
# stack starts once), and every file on the shared session `stack` is ONE unit, run on one
# worker in collection order: what those tests leave on the stack (watchlists, signals,
# orders) is in the order they were written for. Only the workers know which tests use the
# fixture, so each writes the files that do to a directory the controller named, and the
# controller's scheduler reads them once every worker has collected.
_GROUPS_ENV = "WHEELDESK_XDIST_GROUPS"
SESSION_STACK = "session-stack"


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist") and config.getoption("numprocesses", None):
        os.environ[_GROUPS_ENV] = tempfile.mkdtemp(prefix="wd-xdist-groups-")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    folder, worker = os.environ.get(_GROUPS_ENV), getattr(config, "workerinput", {}).get("workerid")
    if folder and worker:  # an xdist worker (not a pytest a test started, which inherits env)
        shared = sorted({i.nodeid.split("::")[0] for i in items if "stack" in i.fixturenames})
        Path(folder, f"{worker}.txt").write_text("\n".join(shared), encoding="utf-8")


def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    from xdist.scheduler import LoadScopeScheduling

    if config.getvalue("dist") not in ("load", "loadfile") or _GROUPS_ENV not in os.environ:
        return None  # another mode asked for by name: xdist's own scheduler
    folder = Path(os.environ[_GROUPS_ENV])

    class StackAwareScheduling(LoadScopeScheduling):
        """`--dist loadfile`, except that the session stack's files are one unit."""

        @functools.cached_property
        def shared(self) -> set[str]:
            return {
                line for f in folder.glob("*.txt") for line in f.read_text().splitlines() if line
            }

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::")[0]
            return SESSION_STACK if path in self.shared else path

    return StackAwareScheduling(config, log)


@pytest.fixture(autouse=True)
def pinned_broker_clock() -> Iterator[None]:
    """Code running inside the test process sees the broker's clock at `SIM_START`, the same
    moment tws-sim starts at, never the machine's date. Tests needing another moment call
    `BROKER_CLOCK.pin(...)` themselves."""
    BROKER_CLOCK.pin(SIM_START)
    yield
    BROKER_CLOCK.pin(None)


@pytest.fixture(scope="session")
def internal_token() -> str:
    return TEST_TOKEN


@pytest.fixture(scope="session")
def nats_server() -> Iterator[Proc]:
    """One real nats-server (JetStream on) for the session. Tests isolate by subject/stream.

    `url` carries the all-permission test user; services started with it connect as that user
    (`procs.nats_user_env` gives one its own restricted user)."""
    proc = nats_proc().start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_nats() -> Iterator[Proc]:
    """A nats-server of this test's own, for tests that kill or restart it."""
    proc = nats_proc().start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def tws_sim() -> Iterator[Proc]:
    """One shared tws-sim (seed 7). Tests that inject faults should use `tws_sim_factory`."""
    proc = tws_sim_proc().start()
    yield proc
    proc.stop()


@pytest.fixture
def tws_sim_factory() -> Iterator[Callable[..., Proc]]:
    started: list[Proc] = []

    def make(**kwargs: object) -> Proc:
        proc = tws_sim_proc(**kwargs).start()  # type: ignore[arg-type]
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def service_factory() -> Iterator[Callable[..., Proc]]:
    """Start a service (`gateway-bridge`, `screener`, `notifier`, `web`) as a real process."""
    started: list[Proc] = []

    def make(service: str, env: dict[str, str] | None = None, **kwargs: object) -> Proc:
        proc = service_proc(service, env or {}, **kwargs)  # type: ignore[arg-type]
        started.append(proc)
        return proc.start(timeout=90)

    yield make
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
def fake_resend():  # type: ignore[no-untyped-def]
    """A fake Resend HTTP server (`.url` for RESEND_API_URL, `.emails`, `.fail_next()`, ...)."""
    from wheeldesk_testing.fake_resend import FakeResend

    with FakeResend() as fake:
        yield fake


# --- the whole stack + a real browser (web, e2e) ----------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def postgres_server():  # type: ignore[no-untyped-def]
    """A real PostgreSQL server for the session (testing/postgres.py; `make postgres` installs
    it). `postgres_server.create_database(name)` gives a fresh database's DATABASE_URL."""
    from wheeldesk_testing.postgres import PostgresServer, available

    if not available():
        pytest.skip("PostgreSQL is not installed: `make postgres`")
    server = PostgresServer().start()
    yield server
    server.stop()


# The databases the web runs on (DATABASE_URL): SQLite by default, PostgreSQL when one file is
# no longer enough (docs/deploy.md). The order and ledger end-to-end tests run on both.
WEB_DATABASES = ("sqlite", "postgresql")


@pytest.fixture(scope="module", params=WEB_DATABASES)
def web_database(request):  # type: ignore[no-untyped-def]
    """Runs the requesting module's tests once per database the web supports. Its value goes
    over a stack's web and worker environment (`Stack.start(web_env=...)`): {} keeps the stack's
    own SQLite file; PostgreSQL is a fresh database, named after the module, on the session's
    server (`postgres_server`: skipped where PostgreSQL is not installed)."""
    if request.param == "sqlite":
        return {}
    server = request.getfixturevalue("postgres_server")
    module = request.module.__name__.rsplit(".", 1)[-1]
    return {"DATABASE_URL": server.create_database(f"wd_{module}"[:63].lower())}


@pytest.fixture(scope="session")
def stack():  # type: ignore[no-untyped-def]
    """Every Wheeldesk process on free ports (see `wheeldesk_testing.stack.Stack`)."""
    from wheeldesk_testing.stack import Stack

    started = Stack.start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """The system Chromium driven by Playwright (no browser download).

    Module-scoped on purpose: Playwright's sync API keeps an event loop running while it is
    open, so it must be closed before later asyncio tests (or another sync_playwright) run.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    """A fresh browser context (1440×900) and page; screenshots go to test-artifacts/."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)
    new_page = context.new_page()
    yield new_page
    context.close()
