"""Issue 17's attacks on the services and their perimeter, against real processes.

Each test runs one attack the probe found working and asserts it now fails: publishing on
NATS without credentials or on another service's subjects, a browser-borne request with a
foreign Host (DNS rebinding), a service started with a weak secret, a bridge configured with
an account its IB login does not manage, and `make run` losing every process to one crash.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import nats
import pytest
from wheeldesk import subjects
from wheeldesk.settings import DEFAULT_INTERNAL_TOKEN
from wheeldesk_testing.e2e import wait_until
from wheeldesk_testing.procs import (
    ROOT,
    TEST_TOKEN,
    free_port,
    nats_user_env,
    service_proc,
    tws_sim_proc,
)
from wheeldesk_testing.stack import Stack

pytestmark = pytest.mark.slow

API_SERVICES = ("bridge", "screener", "notifier")


def _nats_attempt(url: str, **kwargs: str) -> str:
    async def run() -> str:
        try:
            nc = await nats.connect(
                url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3, **kwargs
            )
        except Exception as exc:
            return str(exc)
        try:
            await nc.publish(subjects.execution("0001.fake"), b'{"side": "BUY", "price": 0.01}')
            await nc.flush()
        finally:
            await nc.close()
        return "published"

    return asyncio.run(run())


def _violations(stack: Stack, service: str, subject: str) -> tuple[list[bytes], list[str]]:
    """Publish `subject` as `service`'s NATS user; what a listener saw, what the server said."""
    env = nats_user_env(stack.nats, service)

    async def run() -> tuple[list[bytes], list[str]]:
        seen: list[bytes] = []
        errors: list[str] = []

        async def collect(msg) -> None:  # type: ignore[no-untyped-def]
            seen.append(msg.data)

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        watcher = await nats.connect(stack.nats_url)
        offender = await nats.connect(
            env["NATS_URL"],
            user=env["NATS_USER"],
            password=env["NATS_PASSWORD"],
            error_cb=on_error,
            allow_reconnect=False,
        )
        try:
            await watcher.subscribe(subject, cb=collect)
            await watcher.flush()
            await offender.publish(subject, FAKE)
            await offender.flush()
            for _ in range(50):
                if errors:
                    break
                await asyncio.sleep(0.05)
            await watcher.flush()
        finally:
            await offender.close()
            await watcher.close()
        return seen, errors

    return asyncio.run(run())


FAKE = b'{"symbol": "KO", "last": 4.2, "fake": true}'


def test_nats_refuses_unauthenticated_clients_and_foreign_subjects(fault_stack: Stack) -> None:
    """The probe's fake fill (BUY 1000 TSLA @ 0.01), email job and $4.20 KO quote all went
    through an open NATS. Now: no credentials, no connection; the web's own credentials
    cannot publish what only the bridge or the notifier may."""
    stack = fault_stack
    bare = f"nats://127.0.0.1:{stack.nats.port}"
    refused = _nats_attempt(bare)
    assert "authorization" in refused.lower(), refused
    wrong = _nats_attempt(bare, user="gateway-bridge", password="guessed-password")
    assert "authorization" in wrong.lower(), wrong
    for subject in (subjects.quote("KO"), subjects.execution("0001.fake"), subjects.email("x")):
        seen, errors = _violations(stack, "web", subject)
        # The bridge's own KO quotes may stream meanwhile: the fake one must not be among them.
        assert FAKE not in seen, subject
        assert any("permissions violation for publish" in e.lower() for e in errors), errors
    # The services themselves are on the bus as their own users.
    for name in ("gateway-bridge", "screener", "notifier", "web"):
        proc = {"gateway-bridge": stack.bridge, "screener": stack.screener}.get(name)
        proc = proc or {"notifier": stack.notifier, "web": stack.web}[name]
        assert proc.env["NATS_USER"] == name
    assert httpx.get(f"{stack.notifier_url}/readyz", timeout=10).status_code == 200


def test_no_nats_password_in_any_log(fault_stack: Stack) -> None:
    """Credentials travel in NATS_URL or NATS_PASSWORD; the connect log shows the bare URL."""
    passwords = getattr(fault_stack.nats, "passwords", {})
    assert len(passwords) == 5  # four services and the test's own user
    for proc in fault_stack.procs:
        text = proc.log_text()
        for user, password in passwords.items():
            assert password not in text, f"{user}'s NATS password appears in {proc.name}'s log"
    assert "nats connected" in fault_stack.bridge.log_text()


@pytest.mark.parametrize("service", API_SERVICES)
def test_a_foreign_host_is_refused_on_each_api(fault_stack: Stack, service: str) -> None:
    """DNS rebinding: a page at evil.example whose name now resolves to 127.0.0.1 reaches the
    port, but its requests carry `Host: evil.example:<port>`."""
    base = getattr(fault_stack, f"{service}_url")
    port = base.rsplit(":", 1)[1]
    auth = {"Authorization": f"Bearer {TEST_TOKEN}"}
    for path in ("/v1/orders", "/healthz", "/openapi.json", "/docs"):
        r = httpx.get(f"{base}{path}", headers={**auth, "Host": f"evil.example:{port}"})
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.json()["code"] == "host_not_allowed"
    assert httpx.get(f"{base}/healthz", headers={"Host": f"localhost:{port}"}).status_code == 200
    # The API documentation is behind the token like every route.
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert httpx.get(f"{base}{path}").status_code == 401, path
    assert httpx.get(f"{base}/openapi.json", headers=auth).json()["openapi"].startswith("3.")


def _run_service(module: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", module],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


STRONG = "s" * 40


@pytest.mark.parametrize("module", ["gateway_bridge", "screener", "notifier", "wheeldesk_web"])
@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"INTERNAL_API_TOKEN": "x"},
            "configuration error: INTERNAL_API_TOKEN is 1 characters; use at least 32 when"
            " DEMO_MODE=false (openssl rand -hex 32)",
        ),
        (
            {"NATS_PASSWORD": "hunter2"},
            "configuration error: NATS_PASSWORD is 7 characters; use at least 32 when"
            " DEMO_MODE=false (openssl rand -hex 32)",
        ),
        (
            {"NATS_USER": "", "NATS_PASSWORD": ""},
            "configuration error: NATS_PASSWORD must be set to a non-default secret when"
            " DEMO_MODE=false",
        ),
    ],
)
def test_weak_secrets_exit_2_with_one_line(module: str, env: dict[str, str], line: str) -> None:
    cwd = Path(tempfile.mkdtemp(prefix="wd-weak-"))
    production = {
        "DEMO_MODE": "false",
        "INTERNAL_API_TOKEN": STRONG,
        "DJANGO_SECRET_KEY": "k" * 50,
        "NATS_USER": "web",
        "NATS_PASSWORD": "n" * 40,
        "ALLOWED_HOSTS": "wheeldesk.example.com",
        "DATA_DIR": str(cwd / "data"),
        "DATABASE_URL": f"sqlite:///{cwd}/data/db.sqlite3",
        **env,
    }
    result = _run_service(module, production, cwd)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [line]


def test_a_one_character_django_secret_key_exits_2() -> None:
    cwd = Path(tempfile.mkdtemp(prefix="wd-weak-"))
    result = _run_service(
        "wheeldesk_web",
        {
            "DEMO_MODE": "false",
            "INTERNAL_API_TOKEN": STRONG,
            "DJANGO_SECRET_KEY": "x",
            "NATS_USER": "web",
            "NATS_PASSWORD": "n" * 40,
            "ALLOWED_HOSTS": "wheeldesk.example.com",
            "DATA_DIR": str(cwd / "data"),
        },
        cwd,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        "configuration error: DJANGO_SECRET_KEY is 1 characters; use at least 32 when"
        " DEMO_MODE=false (openssl rand -hex 32)"
    ]


def test_a_spoofed_account_stops_the_bridge(fault_stack: Stack) -> None:
    """IB_ACCOUNT=DU… on a live login made the bridge report a paper account and its
    live-order guard pass (IB itself rejected the orders). tws-sim logged in as a live
    account (U1234567) stands for that login: the bridge exits 2 with one line instead."""
    live = tws_sim_proc(extra=["--account", "U1234567"]).start()
    bridge = service_proc(
        "gateway-bridge",
        {
            **nats_user_env(fault_stack.nats, "gateway-bridge"),
            "IB_PORT": str(live.port),
            "IB_CLIENT_ID": "977",
            "IB_ACCOUNT": "DU7654321",
        },
    )
    bridge.start(wait=False)
    try:
        assert bridge.proc is not None
        bridge.proc.wait(90)
        assert bridge.proc.returncode == 2, bridge.tail()
        assert bridge.log_text().strip().splitlines()[-1] == (
            "configuration error: IB_ACCOUNT DU7654321 is not an account of this IB login "
            "(live: U1234567); refusing to run on it"
        )
        orders = httpx.get(f"{live.control_url}/state/orders", timeout=10).json()  # type: ignore[attr-defined]
        assert orders == []
    finally:
        bridge.stop()
        live.stop()


RUN_PORTS = (
    "NATS_PORT",
    "TWS_SIM_PORT",
    "TWS_SIM_CONTROL_PORT",
    "BRIDGE_PORT",
    "SCREENER_PORT",
    "NOTIFIER_PORT",
    "WEB_PORT",
)


def start_make_run(tmp_path: Path) -> tuple[subprocess.Popen[bytes], dict[str, str], Path]:
    """scripts/run.py (what `make run` runs) on free ports, its state under `tmp_path`, without
    an INTERNAL_API_TOKEN (so it makes its own); the process, its ports and its log."""
    ports = {name: str(free_port()) for name in RUN_PORTS}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "IB_"))},
        **ports,
        "WHEELDESK_RUN_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/web.sqlite3",
        "DATA_DIR": str(tmp_path / "data"),
        "EMAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "DEMO_MODE": "true",
    }
    env.pop("INTERNAL_API_TOKEN", None)
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        run = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py")],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return run, ports, log_path


def healthy(port: str) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_make_run_restarts_a_killed_process_and_stops_cleanly(tmp_path: Path) -> None:
    """kill -9 of one process used to stop all seven; Ctrl-C ended in `Error 130`."""
    run, ports, log_path = start_make_run(tmp_path)

    def output() -> str:
        return log_path.read_text(errors="replace")

    try:
        wait_until(lambda: "Wheeldesk is running" in output(), 240, "make run's banner")
        pids = dict(re.findall(r"run\s+\| (\S+) started \(pid (\d+)\)", output()))
        assert set(pids) == {"nats", "tws-sim", "bridge", "screener", "notifier", "web", "worker"}
        # The run's token is its own: the public demo token opens nothing.
        bridge = f"http://127.0.0.1:{ports['BRIDGE_PORT']}"
        r = httpx.get(
            f"{bridge}/v1/account", headers={"Authorization": f"Bearer {DEFAULT_INTERNAL_TOKEN}"}
        )
        assert r.status_code == 401
        # Its NATS takes no anonymous client.
        refused = _nats_attempt(f"nats://127.0.0.1:{ports['NATS_PORT']}")
        assert "authorization" in refused.lower(), refused

        os.kill(int(pids["screener"]), signal.SIGKILL)
        wait_until(
            lambda: "!! screener exited with code -9; restarting it in 1 s" in output(),
            30,
            "the supervisor noticing the screener died",
        )
        assert healthy(ports["WEB_PORT"]) and healthy(ports["BRIDGE_PORT"])
        wait_until(lambda: healthy(ports["SCREENER_PORT"]), 90, "the screener back")
        assert run.poll() is None
        for name, pid in pids.items():
            if name != "screener":
                os.kill(int(pid), 0)  # still the same process: nobody else was restarted

        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends make run
        assert run.wait(60) == 0, output()[-3000:]
        assert "stopped" in output().splitlines()[-1]
        for pid in pids.values():
            with pytest.raises(ProcessLookupError):
                os.kill(int(pid), 0)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
