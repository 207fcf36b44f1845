"""`make run`: start every Wheeldesk process under one process manager (honcho).

Prints the URL and the demo login once every service answers `/healthz`; Ctrl-C
stops every process it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from honcho.manager import Manager

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DEMO_USER = os.environ.get("DEMO_USERNAME", "demo")
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "wheeldesk-demo")


def env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        print(f"configuration error: {name} must be a port number (got {raw!r})", file=sys.stderr)
        raise SystemExit(2)
    return int(raw)


def main() -> int:
    ports = {
        "nats": env_port("NATS_PORT", 4222),
        "tws": env_port("TWS_SIM_PORT", 4002),
        "tws_control": env_port("TWS_SIM_CONTROL_PORT", 4080),
        "bridge": env_port("BRIDGE_PORT", 8001),
        "screener": env_port("SCREENER_PORT", 8002),
        "notifier": env_port("NOTIFIER_PORT", 8003),
        "web": env_port("WEB_PORT", 8000),
    }
    var = ROOT / "var"
    (var / "nats").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text"),
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
    manage = [PY, str(ROOT / "services/web/manage.py")]
    for step in (
        ["migrate", "--noinput", "-v", "0"],
        ["ensure_demo_user", DEMO_USER, DEMO_PASSWORD],
    ):
        result = subprocess.run([*manage, *step], env=env, cwd=ROOT)
        if result.returncode != 0:
            return result.returncode

    nats_bin = str(Path(PY).parent / "nats-server")
    processes = {
        "nats": f"{nats_bin} -a 127.0.0.1 -p {ports['nats']} -js -sd {var / 'nats'}",
        "tws-sim": f"{PY} -m tws_sim --port {ports['tws']} --control-port {ports['tws_control']} --seed 7",
        "bridge": f"{PY} -m gateway_bridge",
        "screener": f"{PY} -m screener",
        "notifier": f"{PY} -m notifier",
        "web": f"{PY} -m wheeldesk_web",
        "worker": f"{PY} services/web/manage.py worker",
    }
    if os.environ.get("IB_PORT"):
        processes.pop("tws-sim")  # pointed at a real IB Gateway / TWS
    else:
        env["IB_SIMULATED"] = "true"  # label tws-sim's data as simulated everywhere it shows
    manager = Manager()
    for name, cmd in processes.items():
        manager.add_process(name, cmd, env=env, cwd=str(ROOT))

    health = {
        "gateway-bridge": ports["bridge"],
        "screener": ports["screener"],
        "notifier": ports["notifier"],
        "web": ports["web"],
    }

    def announce() -> None:
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
            print(f"\n!! not healthy after 180 s: {', '.join(pending)}\n", flush=True)
            return
        print(
            "\n"
            "  Wheeldesk is running (demo: tws-sim paper account, console email).\n"
            f"  Open   http://127.0.0.1:{ports['web']}\n"
            f"  Login  {DEMO_USER} / {DEMO_PASSWORD}\n"
            "  Emails are written to var/outbox/. Ctrl-C stops everything.\n",
            flush=True,
        )

    threading.Thread(target=announce, daemon=True).start()
    manager.loop()
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
