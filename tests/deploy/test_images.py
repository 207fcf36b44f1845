"""Each image's install step, reproduced without Docker: a fresh venv holding one service only.

The build stage's context is laid out from the Dockerfile's own COPY lines, its RUN lines
(`uv sync --package <svc> --frozen --no-dev ...`) are run into a fresh environment, and the
service is started from that environment, outside the repository, and must answer /healthz.
The harness (testing/, dev-only) must be absent from each, and from `uv sync --package <svc>
--no-dev` in the whole workspace. A dependency missing from a service's pyproject.toml, a file the Dockerfile forgets to copy, or
an import of another service's code fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from deploy_helpers import ROOT, SERVICES, Service, replay_build_stage, stages
from wheeldesk_testing.procs import TEST_TOKEN, Proc, free_port

OTHER_PACKAGES = {s.module for s in SERVICES}
# The test harness (testing/, a dev-only workspace member) and what only it needs: no image and
# no service's `--no-dev` sync may carry them.
HARNESS = ("wheeldesk_testing", "wheeldesk-testing", "pytest")
STOP_GRACE_SECONDS = 30  # compose's stop_grace_period


def install(service: Service, workdir: Path) -> Path:
    """Run the image's build stage for `service` into workdir/venv; return the venv."""
    context = workdir / "src"
    context.mkdir()
    commands = replay_build_stage(service, context)
    venv = workdir / "venv"
    # The runner's environment (index, proxy and certificate settings), minus its own venv.
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env |= {
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON": str(Path(sys.base_prefix) / "bin" / "python3.11")
        if (Path(sys.base_prefix) / "bin" / "python3.11").exists()
        else sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
    }
    for command in commands:
        result = subprocess.run(
            command, shell=True, cwd=context, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"{service.name}: `{command}` failed:\n{result.stderr}"
    return venv


@pytest.fixture(scope="module")
def installed() -> dict[str, Path]:
    """Every service installed into its own fresh venv (in parallel: uv's cache is shared)."""
    root = Path(tempfile.mkdtemp(prefix="wd-images-"))
    dirs = {s.name: root / s.name for s in SERVICES}
    for d in dirs.values():
        d.mkdir()
    with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
        futures = {s.name: pool.submit(install, s, dirs[s.name]) for s in SERVICES}
        venvs = {name: f.result() for name, f in futures.items()}
    yield venvs
    shutil.rmtree(root, ignore_errors=True)


def image_command(service: Service) -> list[str]:
    final = stages(service.dockerfile)["runtime"]
    cmd = [json.loads(rest) for keyword, rest in final if keyword == "CMD"][-1]
    entry = [json.loads(rest) for keyword, rest in final if keyword == "ENTRYPOINT"]
    return (entry[-1] if entry else []) + cmd


def test_each_venv_holds_only_its_own_service(installed: dict[str, Path]) -> None:
    for service in SERVICES:
        site = next((installed[service.name] / "lib").glob("python3*/site-packages"))
        present = {p.name for p in site.iterdir() if p.name in OTHER_PACKAGES}
        assert present == {service.module}, f"{service.name} venv holds {present}"
        assert (site / "wheeldesk").is_dir()
        assert not list(site.glob("__editable__*")), "the image installs wheels, not editables"
        harness = sorted(
            p.name
            for p in site.iterdir()
            if p.name.lower().startswith(("wheeldesk_testing", "pytest"))
        )
        assert harness == [], f"{service.name} image carries the test harness: {harness}"
    assert not list(
        next((installed["gateway-bridge"] / "lib").glob("python3*/site-packages")).glob("django")
    ), "the bridge image must not carry Django"


def uv_export(*args: str) -> list[str]:
    """The requirement lines `uv sync` with these arguments would install, from uv.lock."""
    uv = shutil.which("uv") or str(Path.home() / ".local/bin/uv")
    result = subprocess.run(
        [uv, "export", "--frozen", "--no-hashes", "--no-header", "--no-annotate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_no_dev_sync_of_a_service_installs_no_harness(service: Service) -> None:
    """`uv sync --package <svc> --frozen --no-dev` in the whole workspace (testing/ present)."""
    lines = uv_export("--package", service.package, "--no-dev")
    assert f"-e ./{service.dockerfile.parent.relative_to(ROOT)}" in lines, lines
    carried = [line for line in lines if any(h in line for h in ("testing", "pytest"))]
    assert carried == [], f"{service.name}'s production install carries {carried}"


def test_the_development_sync_does_install_the_harness() -> None:
    """The other side of the check above: the workspace's dev group is where the harness is."""
    lines = uv_export("--all-packages")
    assert "-e ./testing" in lines
    assert any(line.startswith("pytest==") for line in lines)


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_service_boots_from_its_image_venv(
    service: Service,
    installed: dict[str, Path],
    nats_server: Proc,
    tws_sim: Proc,
    tmp_path: Path,
) -> None:
    venv = installed[service.name]
    command = image_command(service)
    port = free_port()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "VIRTUAL_ENV": str(venv),
        "DEMO_MODE": "true",
        "INTERNAL_API_TOKEN": TEST_TOKEN,
        "LOG_FORMAT": "json",
        "NATS_URL": nats_server.url,  # type: ignore[attr-defined]
    }
    if service.name == "web":
        # The image's entrypoint: collectstatic + migrate, then the server.
        assert command[0] == "/app/docker-entrypoint.sh" and command[1:] == ["web"]
        command = ["sh", str(ROOT / "services/web/docker-entrypoint.sh"), "web"]
        data = tmp_path / "data"
        env |= {
            "MANAGE_PY": str(ROOT / "services/web/manage.py"),
            "DJANGO_SETTINGS_MODULE": "wheeldesk_web.settings",
            "DATA_DIR": str(data),
            "DATABASE_URL": f"sqlite:///{data}/wheeldesk.sqlite3",
        }
    if service.name == "gateway-bridge":
        # The session's simulator, on a client id no other test uses.
        env |= {"IB_HOST": "127.0.0.1", "IB_PORT": str(tws_sim.port), "IB_CLIENT_ID": "731"}
    if service.port_field:
        env[service.port_field.upper()] = str(port)
        env[service.port_field.replace("_port", "_host").upper()] = "127.0.0.1"
    else:  # tws-sim: ports are arguments
        command = list(command)
        command[command.index("--host") + 1] = "127.0.0.1"
        command[command.index("--port") + 1] = str(free_port())
        command[command.index("--control-port") + 1] = str(port)
    proc = Proc(
        f"image-{service.name}",
        command,
        env=env,
        port=port,
        ready_url=f"http://127.0.0.1:{port}/healthz",
        cwd=tmp_path,  # outside the repository: nothing importable but the venv
        log_dir=tmp_path,
    )
    proc.env = env  # exactly this environment, not the test runner's
    try:
        proc.start(timeout=120)
        body = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        assert body["status"] == "ok"
        if service.name == "web":
            assert (tmp_path / "data" / "wheeldesk.sqlite3").exists(), "migrations did not run"
        if service.name == "gateway-bridge":
            wait_ready(f"http://127.0.0.1:{port}/readyz")  # it really talks to IB from the image
        if service.port_field:
            # `docker stop`: SIGTERM to the main process only, then SIGKILL after the grace
            # period (30 s in compose). The service must exit cleanly within it.
            assert proc.proc is not None
            proc.proc.send_signal(signal.SIGTERM)
            returncode = proc.proc.wait(STOP_GRACE_SECONDS)
            # uvicorn re-raises the signal once shut down, so -SIGTERM after a clean shutdown
            # is as good as 0 (docker reports 143 either way).
            assert returncode in (0, -signal.SIGTERM), f"exit {returncode}:\n{proc.tail()}"
            log = proc.log_text()
            assert "Traceback" not in log
            if service.name != "web":  # web runs without an ASGI lifespan
                assert "Application shutdown complete" in log, proc.tail()
    finally:
        proc.stop()


def wait_ready(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready: {last}")


def test_web_assets_stage_builds_from_what_it_copies(tmp_path: Path) -> None:
    """The Node stage, replayed from its own COPY lines: Tailwind CSS and the vendored JS."""
    web = next(s for s in SERVICES if s.name == "web")
    commands = replay_build_stage(web, tmp_path, stage="assets")
    assert commands == ["npm ci --no-audit --no-fund --loglevel=error", "npm run build"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("npm_")}
    for command in commands:
        result = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"`{command}` failed:\n{result.stdout}\n{result.stderr}"
    dist = tmp_path / "src/wheeldesk_web/static/dist"
    built = {p.name for p in dist.iterdir()}
    assert {"app.css", "htmx.min.js", "sse.js"} <= built
    css = (dist / "app.css").read_text()
    assert ".card" in css  # the components layer of frontend/app.css was compiled
    # The build stage copies exactly this directory into the wheel.
    build_copies = [r for k, r in stages(web.dockerfile)["build"] if k == "COPY"]
    assert "--from=assets /web/src/wheeldesk_web/static/dist" in " ".join(build_copies)
