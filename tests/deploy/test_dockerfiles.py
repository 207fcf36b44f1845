"""Every service has a Dockerfile that hadolint passes and that builds the way the issue asks."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deploy_helpers import ROOT, SERVICES, Service, instructions, run_flags, stages
from wheeldesk_testing.procs import TEST_TOKEN, free_port

HADOLINT = Path(sys.executable).parent / "hadolint"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_hadolint_passes(service: Service) -> None:
    assert service.dockerfile.exists(), f"missing {service.dockerfile.relative_to(ROOT)}"
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(service.dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install requests\nCMD python app.py\n")
    result = subprocess.run([str(HADOLINT), "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # `latest` tag
    assert "DL3025" in result.stdout  # CMD not in JSON form


# One pin for every Python stage: exact version and the multi-arch index digest. Bumping it is
# docs/deploy.md's "Bumping the base images" (this constant moves with the Dockerfiles).
PYTHON_IMAGE = (
    "python:3.11.14-slim-bookworm"
    "@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d"
)
EXACT_TAG = re.compile(r"^[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$")


def base_images(path: Path) -> list[str]:
    """The external images a Dockerfile builds FROM (not its own earlier stages)."""
    names: set[str] = set()
    images: list[str] = []
    for keyword, rest in instructions(path):
        if keyword != "FROM":
            continue
        parts = rest.split()
        if parts[0] not in names:
            images.append(parts[0])
        if len(parts) >= 3:
            names.add(parts[2])
    return images


def test_base_images_are_pinned_to_exact_versions() -> None:
    """No moving tag (`:3.11-slim`, `:22-slim`, `:latest`, `:stable`): a rebuild gets the same
    bases. Python and Node are pinned by digest too."""
    for path in sorted(ROOT.glob("services/*/Dockerfile")):
        for image in base_images(path):
            assert EXACT_TAG.match(image), f"{path}: {image} is not an exact version"
            if image.startswith(("python:", "node:")):
                assert "@sha256:" in image, f"{path}: {image} has no digest"
            if image.startswith("python:"):
                assert image == PYTHON_IMAGE, f"{path}: {image} differs from the one pin"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_dockerfile_shape(service: Service) -> None:
    by_stage = stages(service.dockerfile)
    assert by_stage["runtime"][0][1].split()[0] == PYTHON_IMAGE
    assert by_stage["build"][0] == ("FROM", f"{PYTHON_IMAGE} AS build")
    build = by_stage["build"]
    raw_runs = [rest for keyword, rest in build if keyword == "RUN"]
    # uv's download cache is a BuildKit cache mount: kept across builds, never in a layer.
    for rest in raw_runs:
        assert run_flags(rest)[0] == ["--mount=type=cache,target=/root/.cache/uv"], rest
    runs = [run_flags(rest)[1] for rest in raw_runs]
    # Dependencies from the lock in a layer of their own, then the code, installed as wheels.
    assert runs == [
        f"uv sync --package {service.package} --frozen --no-dev --no-install-workspace",
        f"uv sync --package {service.package} --frozen --no-dev --no-editable",
    ]
    first_run = build.index(("RUN", raw_runs[0]))
    copies_before = [rest for keyword, rest in build[:first_run] if keyword == "COPY"]
    assert all("pyproject.toml" in c or "uv.lock" in c or "--from" in c for c in copies_before), (
        f"only manifests and the lock may be copied before the dependency layer: {copies_before}"
    )
    final = by_stage["runtime"]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the image must not run as root"
    healthchecks = [rest for keyword, rest in final if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and "/healthz" in healthchecks[0]
    assert (
        f"'{service.health_port}'" in healthchecks[0]
        or f":{service.health_port}/" in (healthchecks[0])
    ), f"healthcheck does not probe port {service.health_port}"
    exposed = {p for keyword, rest in final if keyword == "EXPOSE" for p in rest.split()}
    assert str(service.health_port) in exposed
    cmd = [rest for keyword, rest in final if keyword in ("CMD", "ENTRYPOINT")]
    assert cmd and all(c.startswith("[") for c in cmd), "CMD/ENTRYPOINT in exec form for signals"


def test_web_image_builds_assets_and_migrates_at_start() -> None:
    web = next(s for s in SERVICES if s.name == "web")
    by_stage = stages(web.dockerfile)
    assets = by_stage["assets"]
    assert assets[0][1].startswith("node:")
    assert ("RUN", "npm run build") in assets
    build_copies = [rest for keyword, rest in by_stage["build"] if keyword == "COPY"]
    assert any(c.startswith("--from=assets") and "static/dist" in c for c in build_copies)
    entrypoint = (ROOT / "services/web/docker-entrypoint.sh").read_text()
    web_branch = entrypoint.split("web)", 1)[1].split(";;", 1)[0]
    assert re.search(r"collectstatic --noinput", web_branch)
    assert web_branch.index("migrate --noinput") < web_branch.index("exec python -m wheeldesk_web")
    worker_branch = entrypoint.split("worker)", 1)[1].split(";;", 1)[0]
    assert "migrate" not in worker_branch  # only web migrates: never two migrations at once


def test_dockerignore_keeps_local_state_out_of_images() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for entry in (".git", ".venv", "**/node_modules", "var", ".env"):
        assert entry in ignored
    # Nothing an image copies is excluded.
    for service in SERVICES:
        for keyword, rest in instructions(service.dockerfile):
            if keyword == "COPY" and not rest.startswith("--from"):
                for source in rest.split()[:-1]:
                    assert source not in ignored


def test_web_image_targets_web_by_default_and_worker_on_request() -> None:
    web = next(s for s in SERVICES if s.name == "web")
    by_stage = stages(web.dockerfile)
    names = list(by_stage)
    assert names[-1] == "web"
    assert by_stage["web"] == [("FROM", "runtime AS web")]  # the default (last) target
    worker = dict(by_stage["worker"][1:])
    assert json.loads(worker["CMD"]) == ["worker"]
    assert "worker-alive" in worker["HEALTHCHECK"]


def test_worker_healthcheck_follows_the_worker_loop(tmp_path: Path) -> None:
    """Healthy while the real worker's loop makes passes; not before, not once it stopped, and
    not when its last pass is older than 5 minutes (a loop stuck in one pass)."""
    entrypoint = ROOT / "services/web/docker-entrypoint.sh"
    manage = ROOT / "services/web/manage.py"
    data = tmp_path / "data"
    closed = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "DATA_DIR": str(data),
        "BACKUP_EVERY_HOURS": "0",
        "BRIDGE_URL": closed,
        "SCREENER_URL": closed,
        "NOTIFIER_URL": closed,
        "INTERNAL_API_TOKEN": TEST_TOKEN,
        "DEMO_MODE": "true",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(
        [sys.executable, str(manage), "migrate", "--noinput", "-v", "0"], env=env, check=True
    )

    def alive() -> int:
        return subprocess.run(
            ["sh", str(entrypoint), "worker-alive"], env=env, timeout=30, capture_output=True
        ).returncode

    assert alive() == 1  # no worker yet
    worker = subprocess.Popen(
        [sys.executable, str(manage), "worker", "--no-nats", "--tick", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while alive() != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert alive() == 0
        beat = data / "worker.heartbeat"
        first = beat.stat().st_mtime
        deadline = time.monotonic() + 60
        while beat.stat().st_mtime == first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert beat.stat().st_mtime > first  # rewritten every pass, not once at start
        # A pass that has not finished for 10 minutes: unhealthy although the process runs.
        worker.send_signal(signal.SIGSTOP)
        old = time.time() - 600
        os.utime(beat, (old, old))
        assert alive() == 1
        worker.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 30
        while alive() != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert alive() == 0  # the loop came back
    finally:
        worker.send_signal(signal.SIGCONT)
        worker.terminate()
        worker.wait(30)
    assert worker.returncode == 0
    assert alive() == 1  # stopped: the heartbeat is gone


def test_web_entrypoint_is_an_executable_posix_script() -> None:
    entrypoint = "services/web/docker-entrypoint.sh"
    staged = subprocess.run(
        ["git", "ls-files", "-s", entrypoint], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert staged.startswith("100755"), f"{entrypoint} must be committed executable: {staged!r}"
    assert subprocess.run(["sh", "-n", str(ROOT / entrypoint)]).returncode == 0


def test_web_image_owns_its_data_and_backup_volumes() -> None:
    """Docker copies an image directory's owner into a fresh named volume: /data and /backups
    must exist in the image and belong to the app user, or the worker cannot write backups."""
    web = next(s for s in SERVICES if s.name == "web")
    runtime = stages(web.dockerfile)["runtime"]
    runs = " ".join(rest for keyword, rest in runtime if keyword == "RUN")
    assert re.search(r"mkdir -p [^&]*/backups", runs) and re.search(
        r"chown wheeldesk:wheeldesk [^&]*/backups", runs
    )
    volumes = [json.loads(rest) for keyword, rest in runtime if keyword == "VOLUME"]
    assert volumes == [["/data", "/backups"]]
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    assert "BACKUP_DIR=/backups" in env and "DATA_DIR=/data" in env
