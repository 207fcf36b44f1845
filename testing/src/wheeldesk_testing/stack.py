"""The whole of Wheeldesk as real processes on free ports, for browser, e2e and fault tests.

nats-server, tws-sim, gateway-bridge, screener, notifier (console email) and web (a fresh
SQLite file, migrated, with the demo login) — each a `Proc` that a test may stop or restart.
"""

from __future__ import annotations

import functools
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from wheeldesk_testing.procs import (
    ROOT,
    TEST_TOKEN,
    Proc,
    free_port,
    nats_proc,
    nats_user_env,
    service_proc,
    tws_sim_proc,
)

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "wheeldesk-demo-pass"
MANAGE = ROOT / "services" / "web" / "manage.py"


@dataclass
class Stack:
    nats: Proc
    tws: Proc
    bridge: Proc
    screener: Proc
    notifier: Proc
    web: Proc
    workdir: Path
    env: dict[str, str]
    worker: Proc | None = None
    username: str = DEMO_USERNAME
    password: str = DEMO_PASSWORD
    procs: list[Proc] = field(default_factory=list)

    @property
    def web_url(self) -> str:
        return self.web.url

    @property
    def bridge_url(self) -> str:
        return self.bridge.url

    @property
    def screener_url(self) -> str:
        return self.screener.url

    @property
    def notifier_url(self) -> str:
        return self.notifier.url

    @property
    def nats_url(self) -> str:
        """The test's own all-permission NATS user (services log in as their own user)."""
        return self.nats.url

    @property
    def control_url(self) -> str:
        return self.tws.control_url  # type: ignore[attr-defined]

    @property
    def outbox_dir(self) -> Path:
        return self.workdir / "outbox"

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST (or GET without a body) to tws-sim's control API, e.g. control("/control/price", {...})."""
        url = f"{self.control_url}{path}"
        response = httpx.post(url, json=body, timeout=10) if body is not None else httpx.get(url)
        response.raise_for_status()
        return response.json() if response.content else None

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `manage.py <args>` against the stack's database and services."""
        return subprocess.run(
            [sys.executable, str(MANAGE), *args],
            env={**self.web.env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    def subscribe(self, *symbols: str) -> None:
        """Ask the bridge to stream these symbols' quotes (as the web does for its watchlist)."""
        response = httpx.post(
            f"{self.bridge_url}/v1/subscriptions",
            json={"symbols": list(symbols)},
            headers={"Authorization": f"Bearer {TEST_TOKEN}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text

    def bridge_get(self, path: str) -> Any:
        response = httpx.get(
            f"{self.bridge_url}{path}",
            headers={"Authorization": f"Bearer {TEST_TOKEN}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    @classmethod
    def start(
        cls,
        *,
        worker: bool = False,
        timeout: float = 120.0,
        tws_args: list[str] | None = None,
        worker_args: list[str] | None = None,
        notifier_env: dict[str, str] | None = None,
        bridge_env: dict[str, str] | None = None,
        web_env: dict[str, str] | None = None,
    ) -> Stack:
        """Start everything; `tws_args` go to tws-sim (e.g. `--speed`), `worker_args` to the
        worker command (e.g. a short `--scan-every` for a soak), `notifier_env` over the
        notifier's environment (e.g. Resend pointed at a `FakeResend`), `bridge_env` over the
        bridge's (e.g. a bigger `MARKET_DATA_LINES` for a 200-symbol stream)."""
        workdir = Path(tempfile.mkdtemp(prefix="wd-stack-"))
        nats = nats_proc()
        tws = tws_sim_proc(extra=tws_args)
        started: list[Proc] = []
        try:
            for proc in (nats, tws):
                _launch(proc, workdir, started)
            nats.wait_ready(timeout)
            tws.wait_ready(timeout)
            ports = {name: free_port() for name in ("bridge", "screener", "notifier", "web")}
            env = _stack_env(nats, tws, ports, workdir)
            procs = {
                name: service_proc(name, env, port=ports[key])
                for name, key in (
                    ("gateway-bridge", "bridge"),
                    ("screener", "screener"),
                    ("notifier", "notifier"),
                )
            }
            for name, proc in procs.items():
                proc.env.update(nats_user_env(nats, name))
            procs["notifier"].env.update(notifier_env or {})
            procs["gateway-bridge"].env.update(bridge_env or {})
            for proc in procs.values():
                _launch(proc, workdir, started)
            # `web_env` over the web's and worker's (e.g. DATABASE_URL of a PostgreSQL server).
            web = service_proc(
                "web", {**env, **nats_user_env(nats, "web"), **(web_env or {})}, port=ports["web"]
            )
            _prepare_database(web)
            _launch(web, workdir, started)
            worker_proc = None
            if worker:
                worker_proc = Proc(
                    "worker",
                    [sys.executable, str(MANAGE), "worker", *(worker_args or [])],
                    env=web.env,
                )
                _launch(worker_proc, workdir, started)
            for proc in (*procs.values(), web):
                proc.wait_ready(timeout)
        except BaseException:
            for proc in reversed(started):
                proc.stop()
            raise
        return cls(
            nats=nats,
            tws=tws,
            bridge=procs["gateway-bridge"],
            screener=procs["screener"],
            notifier=procs["notifier"],
            web=web,
            worker=worker_proc,
            workdir=workdir,
            env=env,
            procs=started,
        )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail(lines)}" for p in self.procs)


def _launch(proc: Proc, workdir: Path, started: list[Proc]) -> None:
    """Start `proc` without waiting, its log in the stack's directory; remember it for stop."""
    proc.log_dir = workdir
    proc.log_path = workdir / f"{proc.name}.log"
    proc.start(wait=False)
    started.append(proc)


def _stack_env(nats: Proc, tws: Proc, ports: dict[str, int], workdir: Path) -> dict[str, str]:
    """Every service's environment: the others' URLs on their free ports, tws-sim as IB, the
    console email outbox and the web's SQLite file in the stack's directory."""
    return {
        "NATS_URL": f"nats://127.0.0.1:{nats.port}",
        "BRIDGE_URL": f"http://127.0.0.1:{ports['bridge']}",
        "SCREENER_URL": f"http://127.0.0.1:{ports['screener']}",
        "NOTIFIER_URL": f"http://127.0.0.1:{ports['notifier']}",
        "WEB_PUBLIC_URL": f"http://127.0.0.1:{ports['web']}",
        "INTERNAL_API_TOKEN": TEST_TOKEN,
        "IB_HOST": "127.0.0.1",
        "IB_PORT": str(tws.port),
        "IB_SIMULATED": "true",  # tws-sim: every price is labelled simulated
        "EMAIL_BACKEND": "console",
        "EMAIL_OUTBOX_DIR": str(workdir / "outbox"),
        "DATABASE_URL": f"sqlite:///{workdir / 'web.sqlite3'}",
        "DATA_DIR": str(workdir / "web"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_FORMAT": "text",
        "DEMO_MODE": "true",
        "PYTHONUNBUFFERED": "1",
    }


def _prepare_database(web: Proc) -> None:
    """The web's own commands: its migrations, then the demo login the tests sign in with.

    On SQLite the result is the same file for every stack of a test process, so it is made
    once (in the first stack's environment) and copied: about 6 s of Django start-up and
    migrations per stack, some twenty stacks in a run.
    """
    url = web.env.get("DATABASE_URL", "")
    if not url.startswith("sqlite:///"):
        _run_database_steps(web.env)
        return
    target = Path(url.removeprefix("sqlite:///"))
    with sqlite3.connect(_sqlite_template(web.env)) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@functools.cache
def _sqlite_template_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="wd-db-template-"))


def _sqlite_template(env: dict[str, str]) -> Path:
    """A migrated SQLite file with the demo login, built by the web's own commands once per
    test process (never reused across runs: it always has this checkout's migrations)."""
    path = _sqlite_template_dir() / "web.sqlite3"
    if not path.exists():
        building = path.with_suffix(".building")
        _run_database_steps({**env, "DATABASE_URL": f"sqlite:///{building}"})
        building.replace(path)
    return path


def _run_database_steps(env: dict[str, str]) -> None:
    for step in (
        ["migrate", "--noinput", "-v", "0"],
        ["ensure_demo_user", DEMO_USERNAME, DEMO_PASSWORD],
    ):
        subprocess.run(
            [sys.executable, str(MANAGE), *step],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=300,
        )
