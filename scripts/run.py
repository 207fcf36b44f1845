"""`make run`: start every Wheeldesk process and keep them running.

Prints the URL and the demo login once every service answers `/healthz`. A process that dies
is restarted (with backoff; one that keeps crashing, or refuses its configuration with exit 2,
is left stopped and the log says so) while the others keep running: a kill -9 of one process
must not take the other six down. Ctrl-C (or SIGTERM) stops everything and exits 0 (no
`make: *** Error 130`). honcho, used before, stops every process when one exits and has no
restart; supervisord or circus would add a daemon and a config format for seven commands, so
the supervisor is the small loop below.

Secrets of the run: NATS gets a fresh configuration under var/nats/ with one user per service
and a new random password each (`wheeldesk.natsconn.server_config`), and unless
INTERNAL_API_TOKEN is set (environment or .env) a random one is made for this run, so the
public demo token never guards a bridge on this machine.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from dotenv import dotenv_values
from wheeldesk import natsconn

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DEMO_USER = os.environ.get("DEMO_USERNAME", "demo")
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "wheeldesk-demo")
MAX_CRASHES = 5  # within CRASH_WINDOW seconds, then the process is left stopped
CRASH_WINDOW = 120.0


def env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 65536:
        print(f"configuration error: {name} must be a port number (got {raw!r})", file=sys.stderr)
        raise SystemExit(2)
    return int(raw)


def say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} run       | {message}", flush=True)


@dataclass
class Child:
    """One supervised process: its command, environment, and crash history."""

    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    crashes: list[float] = field(default_factory=list)
    restart_at: float | None = None
    given_up: bool = False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches run.py only; it stops children in order
        )
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()
        say(f"{self.name} started (pid {self.proc.pid})")

    def _pump(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            print(f"{time.strftime('%H:%M:%S')} {self.name:<9} | {line}", flush=True)

    def send(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)


class Supervisor:
    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.stopping = False
        self.forced = False

    def request_stop(self, signum: int, _frame: object) -> None:
        if self.stopping:
            self.forced = True  # a second Ctrl-C: do not wait for anyone
            for child in self.children:
                child.send(signal.SIGKILL)
            return
        self.stopping = True

    def run(self) -> int:
        for child in self.children:
            child.start()
        while not self.stopping:
            now = time.monotonic()
            for child in self.children:
                self._watch(child, now)
            time.sleep(0.2)
        self.stop_all()
        return 0

    def _watch(self, child: Child, now: float) -> None:
        if child.given_up or child.proc is None:
            return
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.restart_at = None
                say(f"restarting {child.name}")
                child.start()
            return
        code = child.proc.poll()
        if code is None:
            return
        if code == 2:
            child.given_up = True
            say(
                f"!! {child.name} refused its configuration (exit 2, see its line above); "
                "left stopped, the others keep running"
            )
            return
        child.crashes = [t for t in child.crashes if now - t < CRASH_WINDOW] + [now]
        if len(child.crashes) >= MAX_CRASHES:
            child.given_up = True
            say(
                f"!! {child.name} exited with code {code} {len(child.crashes)} times in "
                f"{CRASH_WINDOW:.0f} s; left stopped, the others keep running"
            )
            return
        delay = min(2.0 ** (len(child.crashes) - 1), 30.0)
        child.restart_at = now + delay
        say(f"!! {child.name} exited with code {code}; restarting it in {delay:.0f} s")

    def stop_all(self, grace: float = 20.0) -> None:
        say("stopping…")
        # Everyone but nats first (each flushes what it owes the bus), then nats.
        for group in (
            [c for c in self.children if c.name != "nats"],
            [c for c in self.children if c.name == "nats"],
        ):
            for child in group:
                child.send(signal.SIGTERM)
            deadline = time.monotonic() + grace
            for child in group:
                if child.proc is None:
                    continue
                while child.proc.poll() is None and time.monotonic() < deadline:
                    if self.forced:
                        break
                    time.sleep(0.05)
                if child.proc.poll() is None:
                    say(f"{child.name} did not stop in time; killed")
                    child.send(signal.SIGKILL)
                    child.proc.wait(5)
        say("stopped")


def internal_token() -> tuple[str, bool]:
    """The run's INTERNAL_API_TOKEN: the configured one, else a random one (True if made)."""
    configured = os.environ.get("INTERNAL_API_TOKEN") or dotenv_values(ROOT / ".env").get(
        "INTERNAL_API_TOKEN"
    )
    if configured:
        return configured, False
    return secrets.token_hex(32), True


def nats_config(var: Path, port: int) -> dict[str, str]:
    """Write var/nats/nats-server.conf with fresh passwords; user -> password."""
    passwords = {user: natsconn.generate_password() for user in natsconn.PERMISSIONS}
    path = var / "nats" / "nats-server.conf"
    path.write_text(
        natsconn.server_config(passwords, listen=f"127.0.0.1:{port}", store_dir=str(var / "nats"))
    )
    path.chmod(0o600)
    return passwords


def run_ports() -> dict[str, int]:
    """Every port of the run, from the environment (each checked: exit 2 naming a bad one)."""
    return {
        "nats": env_port("NATS_PORT", 4222),
        "tws": env_port("TWS_SIM_PORT", 4002),
        "tws_control": env_port("TWS_SIM_CONTROL_PORT", 4080),
        "bridge": env_port("BRIDGE_PORT", 8001),
        "screener": env_port("SCREENER_PORT", 8002),
        "notifier": env_port("NOTIFIER_PORT", 8003),
        "web": env_port("WEB_PORT", 8000),
    }


def run_env(ports: dict[str, int], var: Path, token: str) -> dict[str, str]:
    """The environment every process starts with: where the others are, and the run's token."""
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        # this script stamps each line with the time and the process: the services do not
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console"),
        "INTERNAL_API_TOKEN": token,
        "NATS_URL": f"nats://127.0.0.1:{ports['nats']}",
        "IB_HOST": os.environ.get("IB_HOST", "127.0.0.1"),
        "IB_PORT": str(ports["tws"]) if "IB_PORT" not in os.environ else os.environ["IB_PORT"],
        "BRIDGE_URL": f"http://127.0.0.1:{ports['bridge']}",
        "SCREENER_URL": f"http://127.0.0.1:{ports['screener']}",
        "NOTIFIER_URL": f"http://127.0.0.1:{ports['notifier']}",
        "WEB_PUBLIC_URL": f"http://127.0.0.1:{ports['web']}",
        "BRIDGE_PORT": str(ports["bridge"]),
        "SCREENER_PORT": str(ports["screener"]),
        "NOTIFIER_PORT": str(ports["notifier"]),
        "WEB_PORT": str(ports["web"]),
        "EMAIL_OUTBOX_DIR": os.environ.get("EMAIL_OUTBOX_DIR", str(var / "outbox")),
    }


def prepare_web(env: dict[str, str]) -> int:
    """Migrate the web's database and make the demo user; the first failing step's exit code."""
    manage = [PY, str(ROOT / "services/web/manage.py")]
    for step in (
        ["migrate", "--noinput", "-v", "0"],
        ["ensure_demo_user", DEMO_USER, DEMO_PASSWORD, "--routine"],
    ):
        result = subprocess.run([*manage, *step], env=env, cwd=ROOT)
        if result.returncode != 0:
            return result.returncode
    return 0


def tws_sim_argv(env: dict[str, str], ports: dict[str, int]) -> list[str]:
    """tws-sim's command line for the demo."""
    # The demo lives in the real market: a weekend or holiday start shows the most recent
    # session at 10:30 ET (open), and answers take IB's time (issue 18).
    # TWS_SIM_START / TWS_SIM_LATENCY=off override.
    start_set = env.get("TWS_SIM_START") or dotenv_values(ROOT / ".env").get("TWS_SIM_START")
    return [
        PY,
        "-m",
        "tws_sim",
        "--port",
        str(ports["tws"]),
        "--control-port",
        str(ports["tws_control"]),
        "--seed",
        "7",
        *([] if start_set else ["--start", "demo"]),
        "--latency",
        os.environ.get("TWS_SIM_LATENCY", "realistic"),
    ]


def process_specs(
    env: dict[str, str], ports: dict[str, int], var: Path, passwords: dict[str, str]
) -> list[Child]:
    """The supervised processes, each with its own NATS user; no tws-sim against a real IB."""

    def as_user(service: str) -> dict[str, str]:
        user = natsconn.SERVICE_USERS[service]
        return {**env, "NATS_USER": user, "NATS_PASSWORD": passwords[user]}

    nats_bin = str(Path(PY).parent / "nats-server")
    nats_argv = [nats_bin, "-c", str(var / "nats" / "nats-server.conf"), "--logtime=false"]
    children = [
        Child("nats", nats_argv, env),
        Child("tws-sim", tws_sim_argv(env, ports), env),
        Child("bridge", [PY, "-m", "gateway_bridge"], as_user("gateway-bridge")),
        Child("screener", [PY, "-m", "screener"], as_user("screener")),
        Child("notifier", [PY, "-m", "notifier"], as_user("notifier")),
        Child("web", [PY, "-m", "wheeldesk_web"], as_user("web")),
        Child("worker", [PY, "services/web/manage.py", "worker"], as_user("web")),
    ]
    if os.environ.get("IB_PORT"):
        return [c for c in children if c.name != "tws-sim"]  # a real IB Gateway / TWS
    for child in children:
        child.env["IB_SIMULATED"] = "true"  # label tws-sim's data as simulated everywhere
    return children


def announce(ports: dict[str, int], generated_token: bool) -> None:
    """Print the URL and the demo login once every HTTP service answers `/healthz`."""
    health = {
        "gateway-bridge": ports["bridge"],
        "screener": ports["screener"],
        "notifier": ports["notifier"],
        "web": ports["web"],
    }
    deadline = time.monotonic() + 180
    pending = dict(health)
    while pending and time.monotonic() < deadline:
        for name, port in list(pending.items()):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    pending.pop(name)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    if pending:
        say(f"!! not healthy after 180 s: {', '.join(pending)}")
        return
    where = "tws-sim paper account" if "IB_PORT" not in os.environ else "IB at IB_PORT"
    print(
        "\n"
        f"  Wheeldesk is running (demo: {where}, console email).\n"
        f"  Open   http://127.0.0.1:{ports['web']}\n"
        f"  Login  {DEMO_USER} / {DEMO_PASSWORD}\n"
        "  Emails are written to var/outbox/. Ctrl-C stops everything.\n"
        + (
            "  INTERNAL_API_TOKEN: a random one for this run (set it to keep one).\n"
            if generated_token
            else ""
        ),
        flush=True,
    )


def main() -> int:
    ports = run_ports()
    var = Path(os.environ.get("WHEELDESK_RUN_DIR", str(ROOT / "var")))
    (var / "nats").mkdir(parents=True, exist_ok=True)
    token, generated = internal_token()
    env = run_env(ports, var, token)
    code = prepare_web(env)
    if code != 0:
        return code
    passwords = nats_config(var, ports["nats"])
    supervisor = Supervisor(process_specs(env, ports, var, passwords))
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    threading.Thread(target=announce, args=(ports, generated), daemon=True).start()
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
