"""deploy/coolify/*.yml: one compose per independently deployable service and the whole stack,
as Coolify deploys them (its magic variables filled in the way Coolify fills them), checked
with Docker Compose itself and against the services' settings classes."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from deploy_helpers import (
    COMPOSE_FILE,
    COMPOSE_SETTINGS,
    ROOT,
    compose_binary,
    env_names,
    secret_env_names,
    settings_class,
)

COOLIFY = ROOT / "deploy" / "coolify"
# Each file and the services it deploys: one resource each, plus the whole stack.
RESOURCES = {
    "nats.yml": {"nats"},
    "gateway-bridge.yml": {"gateway-bridge"},
    "screener.yml": {"screener"},
    "notifier.yml": {"notifier"},
    "web.yml": {"web", "worker"},
    "ib-gateway.yml": {"ib-gateway"},
    "stack.yml": {"nats", "gateway-bridge", "screener", "notifier", "web", "worker", "ib-gateway"},
}
# What Coolify generates (SERVICE_*), and what a user sets once as shared variables.
MAGIC = {
    "SERVICE_URL_WEB": "https://wheeldesk.example.com",
    "SERVICE_FQDN_WEB": "wheeldesk.example.com",
    "SERVICE_PASSWORD_64_INTERNALAPI": "I" * 64,
    "SERVICE_BASE64_64_DJANGO": "D" * 64,
    "SERVICE_PASSWORD_64_NATSBRIDGE": "B" * 64,
    "SERVICE_PASSWORD_64_NATSSCREENER": "S" * 64,
    "SERVICE_PASSWORD_64_NATSNOTIFIER": "N" * 64,
    "SERVICE_PASSWORD_64_NATSWEB": "W" * 64,
}
SHARED = {
    "INTERNAL_API_TOKEN": "i" * 64,
    "WEB_PUBLIC_URL": "https://wheeldesk.example.com",
    "NATS_PASSWORD_GATEWAY_BRIDGE": "b" * 64,
    "NATS_PASSWORD_SCREENER": "s" * 64,
    "NATS_PASSWORD_NOTIFIER": "n" * 64,
    "NATS_PASSWORD_WEB": "w" * 64,
    "TWS_USERID": "wheeluser",
    "TWS_PASSWORD": "not-a-real-password",
}
MAGIC_VARIABLE = re.compile(
    r"^SERVICE_(URL|FQDN|USER|PASSWORD|PASSWORD_64|BASE64|BASE64_64)_[A-Z0-9]+"
)
NATS_USER_VARIABLE = {
    "gateway-bridge": "GATEWAY_BRIDGE",
    "screener": "SCREENER",
    "notifier": "NOTIFIER",
    "web": "WEB",
    "worker": "WEB",
}


def run(path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [compose_binary(), "-f", str(path), *args],
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=path.parent,
    )


def model(name: str, env: dict[str, str] | None = None) -> dict:
    result = run(COOLIFY / name, "config", "--format", "json", env=env or {**MAGIC, **SHARED})
    assert result.returncode == 0, f"{name}: {result.stderr}"
    return json.loads(result.stdout)


def variables(path: Path) -> set[str]:
    lines = path.read_text().splitlines()
    code = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", code))


def test_a_compose_per_service_and_the_whole_stack() -> None:
    assert {p.name for p in COOLIFY.glob("*.yml")} == set(RESOURCES)
    for name, services in RESOURCES.items():
        assert set(model(name)["services"]) == services, name


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_one_named_external_network_and_a_healthcheck_each(name: str) -> None:
    resolved = model(name)
    assert resolved["networks"] == {
        "wheeldesk": {"name": "wheeldesk", "external": True, "ipam": {}}
    } or set(resolved["networks"]) == {"wheeldesk"}
    assert resolved["networks"]["wheeldesk"]["external"] is True
    assert resolved["networks"]["wheeldesk"]["name"] == "wheeldesk"
    for service, spec in resolved["services"].items():
        assert set(spec["networks"]) == {"wheeldesk"}, service
        # The name the other resources use for it on the shared network.
        aliases = spec["networks"]["wheeldesk"]["aliases"]
        assert aliases == (["ibkr"] if service == "ib-gateway" else [service]), service
        assert spec["healthcheck"]["test"], f"{name}: {service} has no healthcheck"
        for dependency, condition in spec.get("depends_on", {}).items():
            assert condition["condition"] == "service_healthy", f"{service} -> {dependency}"


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_every_setting_each_service_reads_is_provided(name: str) -> None:
    for service, spec in model(name)["services"].items():
        module = COMPOSE_SETTINGS.get(service)
        if module is None:
            continue  # nats, ib-gateway: not Wheeldesk code
        cls = settings_class(module)
        assert cls is not None
        present = set(spec.get("environment") or {})
        missing = sorted(env_names(cls) - present)
        assert not missing, f"{name}: {service} lacks {missing}"
        unknown = sorted(v for v in present - env_names(cls) if not MAGIC_VARIABLE.match(v))
        assert not unknown, f"{name}: {service} sets what no setting reads: {unknown}"
        env = spec["environment"]
        assert env["DEMO_MODE"] == "false"
        assert env["NATS_URL"] == "nats://nats:4222"
        assert env["BRIDGE_URL"] == "http://gateway-bridge:8001"
        # Every secret has a value (generated or shared), never an empty default.
        for secret in secret_env_names(cls) - {"RESEND_API_KEY"}:
            assert len(env[secret]) >= 32, f"{name}: {service}.{secret}"
        # The one secret typed in, Resend's key, is needed: mail is sent unless told otherwise.
        if service == "notifier":
            assert env["EMAIL_BACKEND"] == "resend", name


def test_the_web_gets_its_domain_from_coolify() -> None:
    for name in ("web.yml", "stack.yml"):
        text = (COOLIFY / name).read_text()
        assert re.search(r"^      SERVICE_URL_WEB_8000:$", text, re.M), name
        for service in ("web", "worker"):
            env = model(name)["services"][service]["environment"]
            assert env["ALLOWED_HOSTS"] == "wheeldesk.example.com"
            assert env["CSRF_TRUSTED_ORIGINS"] == "https://wheeldesk.example.com"
            assert env["WEB_PUBLIC_URL"] == "https://wheeldesk.example.com"


def test_the_stack_generates_every_secret_and_shares_it() -> None:
    """In one resource Coolify generates each secret once: every service gets the same one."""
    # Only the IBKR login is typed in (TWS_PASSWORD feeds the Docker secret, not a `${}`).
    assert variables(COOLIFY / "stack.yml") & set(SHARED) == {"TWS_USERID"}
    resolved = model("stack.yml")
    services = resolved["services"]
    tokens = {services[s]["environment"]["INTERNAL_API_TOKEN"] for s in NATS_USER_VARIABLE}
    assert tokens == {MAGIC["SERVICE_PASSWORD_64_INTERNALAPI"]}
    assert services["web"]["environment"]["DJANGO_SECRET_KEY"] == MAGIC["SERVICE_BASE64_64_DJANGO"]
    nats = services["nats"]["environment"]
    for service, var in NATS_USER_VARIABLE.items():
        env = services[service]["environment"]
        assert env["NATS_PASSWORD"] == nats[f"NATS_PASSWORD_{var}"], service
    passwords = {nats[f"NATS_PASSWORD_{v}"] for v in set(NATS_USER_VARIABLE.values())}
    assert len(passwords) == 4  # one per user, never one for all


def test_per_service_resources_share_secrets_through_shared_variables() -> None:
    """Across resources Coolify's generated values differ: what two resources must agree on is
    a required shared variable; what stays in one resource (the Django key) is generated."""
    nats = model("nats.yml")["services"]["nats"]["environment"]
    for service, var in NATS_USER_VARIABLE.items():
        name = "web.yml" if service in ("web", "worker") else f"{service}.yml"
        env = model(name)["services"][service]["environment"]
        assert env["NATS_USER"] == ("web" if service == "worker" else service)
        assert (
            env["NATS_PASSWORD"] == nats[f"NATS_PASSWORD_{var}"] == SHARED[f"NATS_PASSWORD_{var}"]
        )
        assert env["INTERNAL_API_TOKEN"] == SHARED["INTERNAL_API_TOKEN"]
    assert model("web.yml")["services"]["web"]["environment"]["DJANGO_SECRET_KEY"] == "D" * 64
    # A missing shared variable stops the deploy with its name.
    for name in ("nats.yml", "gateway-bridge.yml", "web.yml"):
        env = {**MAGIC, **{k: v for k, v in SHARED.items() if k != "INTERNAL_API_TOKEN"}}
        env.pop("NATS_PASSWORD_WEB")
        result = run(COOLIFY / name, "config", "--quiet", env=env)
        assert result.returncode != 0, name
        assert "is missing a value" in result.stderr, name


@pytest.mark.parametrize("name", ["nats.yml", "stack.yml"])
def test_nats_config_is_the_rendered_one(name: str) -> None:
    resolved = model(name)
    content = resolved["configs"]["nats_conf"]["content"].replace("$$", "$")  # compose's escape
    assert content == (ROOT / "deploy" / "nats" / "nats-server.conf").read_text(), (
        f"{name}: run `python deploy/coolify/sync_nats_conf.py`"
    )
    (mount,) = resolved["services"]["nats"]["configs"]
    assert mount["target"] == "/etc/nats/nats-server.conf"
    assert resolved["services"]["nats"]["command"] == ["-c", "/etc/nats/nats-server.conf"]


@pytest.mark.parametrize("name", ["ib-gateway.yml", "stack.yml"])
def test_ib_gateway_as_in_the_main_compose(name: str) -> None:
    gateway = model(name)["services"]["ib-gateway"]
    env = gateway["environment"]
    assert env["TWS_SETTINGS_PATH"] == gateway["volumes"][0]["target"]
    assert env["TWS_PASSWORD_FILE"] == "/run/secrets/tws_password" and "TWS_PASSWORD" not in env
    assert env["TRADING_MODE"] == "paper"
    (vnc,) = gateway["ports"]
    assert vnc["host_ip"] == "127.0.0.1"
    # TWS_USERID is required here (no profile to hide it behind).
    env_without = {**MAGIC, **{k: v for k, v in SHARED.items() if k != "TWS_USERID"}}
    result = run(COOLIFY / name, "config", "--quiet", env=env_without)
    assert "required variable TWS_USERID is missing a value" in result.stderr


def test_every_magic_variable_is_one_coolify_knows() -> None:
    for path in COOLIFY.glob("*.yml"):
        for var in variables(path):
            if var.startswith("SERVICE_"):
                assert var in MAGIC, f"{path.name}: {var} is not a Coolify magic variable we fill"


@pytest.mark.parametrize("doc", ["docs/deploy.md", "deploy/coolify/README.md"])
def test_docs_name_every_variable_the_composes_use(doc: str) -> None:
    text = (ROOT / doc).read_text()
    used: set[str] = set()
    for path in [COMPOSE_FILE, *COOLIFY.glob("*.yml")]:
        used |= variables(path)
    missing = sorted(v for v in used if f"`{v}`" not in text and f"`{v}=" not in text)
    assert not missing, f"{doc} does not name: {missing}"
