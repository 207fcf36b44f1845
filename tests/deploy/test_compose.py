"""deploy/docker-compose.yml: valid for Compose itself, and in step with the code's settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import (
    BY_NAME,
    COMPOSE_FILE,
    COMPOSE_SETTINGS,
    ENV_EXAMPLE,
    PROD_SECRETS,
    ROOT,
    compose_binary,
    compose_model,
    env_example_names,
    env_names,
    run_compose,
    secret_env_names,
    settings_class,
)
from wheeldesk.settings import BaseServiceSettings

APP_SERVICES = ["gateway-bridge", "screener", "notifier", "web", "worker"]
# The simulator reads only its own TWS_SIM_* settings: compose gives it no token or service URLs.
OWN_SETTINGS_ONLY = {"tws-sim"}


def test_compose_validates_with_every_profile() -> None:
    for profiles in ([], ["demo"], ["ib-gateway"]):
        flags = [f for p in profiles for f in ("--profile", p)]
        result = run_compose(*flags, "config", "--quiet", env=PROD_SECRETS)
        assert result.returncode == 0, f"{profiles}: {result.stderr}"


def test_compose_validator_rejects_a_broken_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    broken = COMPOSE_FILE.read_text().replace(
        "      nats: {condition: service_healthy}\n",
        "      natz: {condition: service_healthy}\n",
        1,
    )
    path = tmp_path / "docker-compose.yml"
    path.write_text(broken)
    result = subprocess.run(
        [compose_binary(), "-f", str(path), "config", "--quiet"],
        env={"PATH": "/usr/bin:/bin", **PROD_SECRETS},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "natz" in result.stderr


@pytest.mark.parametrize(
    "secret",
    ["INTERNAL_API_TOKEN", "DJANGO_SECRET_KEY", "NATS_PASSWORD_WEB", "NATS_PASSWORD_NOTIFIER"],
)
def test_required_secrets_refuse_to_start_without_a_value(secret: str) -> None:
    env = {k: v for k, v in PROD_SECRETS.items() if k != secret}
    result = run_compose("config", "--quiet", env=env)
    assert result.returncode != 0
    assert f"required variable {secret} is missing a value" in result.stderr


def test_production_defaults(compose_all: dict) -> None:
    services = compose_all["services"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DEMO_MODE"] == "false", name
        assert env["INTERNAL_API_TOKEN"] == PROD_SECRETS["INTERNAL_API_TOKEN"], name
        assert env["NATS_URL"] == "nats://nats:4222"
        assert env["BRIDGE_URL"] == "http://gateway-bridge:8001"
        assert env["SCREENER_URL"] == "http://screener:8002"
        assert env["NOTIFIER_URL"] == "http://notifier:8003"
    bridge = services["gateway-bridge"]["environment"]
    assert bridge["ALLOW_LIVE_ORDERS"] == "false"
    assert (bridge["IB_HOST"], bridge["IB_PORT"]) == ("ibkr", "4004")
    assert services["web"]["environment"]["DJANGO_DEBUG"] == "false"


def test_a_real_deployment_sends_mail_and_needs_a_resend_key(compose_all: dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Compose's notifier sends through Resend unless told otherwise, so a deployment without
    RESEND_API_KEY stops at start with one line naming it, instead of silently keeping every
    alert in a folder nobody reads (the Coolify files say the same: tests/deploy/test_coolify)."""
    env = compose_all["services"]["notifier"]["environment"]
    assert (env["EMAIL_BACKEND"], env["RESEND_API_KEY"]) == ("resend", "")
    result = subprocess.run(
        [sys.executable, "-m", "notifier"],
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env},
        cwd=tmp_path,  # no .env
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        "configuration error: RESEND_API_KEY is required when EMAIL_BACKEND=resend"
    ]
    assert "\nEMAIL_BACKEND=resend\n" in ENV_EXAMPLE.read_text()
    for doc in ("docs/deploy.md", "deploy/coolify/README.md"):
        assert "`EMAIL_BACKEND` defaults to `resend`" in (ROOT / doc).read_text(), doc


def test_only_web_and_the_gateways_vnc_are_published_on_loopback(compose_all: dict) -> None:
    published = {name for name, svc in compose_all["services"].items() if svc.get("ports")}
    assert published == {"web", "ib-gateway"}
    (port,) = compose_all["services"]["web"]["ports"]
    assert port["target"] == 8000 and port["host_ip"] == "127.0.0.1"
    # VNC only: the IB API ports (4003/4004) stay on the private network.
    (vnc,) = compose_all["services"]["ib-gateway"]["ports"]
    assert (vnc["target"], vnc["host_ip"], vnc["published"]) == (5900, "127.0.0.1", "5900")


def test_one_private_network(compose_all: dict) -> None:
    assert set(compose_all["networks"]) == {"wheeldesk"}
    for name, svc in compose_all["services"].items():
        assert set(svc["networks"]) == {"wheeldesk"}, name


def test_sqlite_volume_shared_by_web_and_worker_only(compose_all: dict) -> None:
    users = {
        name
        for name, svc in compose_all["services"].items()
        for volume in svc.get("volumes", [])
        if volume["source"] == "web-data"
    }
    assert users == {"web", "worker"}
    for name in users:
        env = compose_all["services"][name]["environment"]
        assert env["DATABASE_URL"] == "sqlite:////data/wheeldesk.sqlite3"
        assert env["DATA_DIR"] == "/data"


def test_nats_runs_jetstream_on_a_volume_with_one_user_per_service(compose_all: dict) -> None:
    nats = compose_all["services"]["nats"]
    assert nats["image"].startswith("nats:")
    assert nats["command"] == ["-c", "/etc/nats/nats-server.conf"]
    mounts = {v["target"]: v for v in nats["volumes"]}
    conf = mounts["/etc/nats/nats-server.conf"]
    assert conf["read_only"] and conf["source"] == str(
        ROOT / "deploy" / "nats" / "nats-server.conf"
    )
    text = Path(conf["source"]).read_text()
    store = re.search(r'store_dir: "([^"]+)"', text).group(1)  # type: ignore[union-attr]
    assert mounts[store]["source"] == "nats-data"
    # Every service logs in as its own user with the password nats has for that user.
    users = {"gateway-bridge": "GATEWAY_BRIDGE", "screener": "SCREENER", "notifier": "NOTIFIER"}
    users |= {"web": "WEB", "worker": "WEB"}
    for name, var in users.items():
        env = compose_all["services"][name]["environment"]
        assert env["NATS_USER"] == (name if name != "worker" else "web"), name
        assert f"password: $NATS_PASSWORD_{var}" in text, var
        assert env["NATS_PASSWORD"] == nats["environment"][f"NATS_PASSWORD_{var}"]
        assert env["NATS_PASSWORD"] == PROD_SECRETS[f"NATS_PASSWORD_{var}"]


def test_profiles_add_the_simulator_or_ib_gateway_as_ibkr(compose_all: dict) -> None:
    default = compose_model()
    assert "tws-sim" not in default["services"] and "ib-gateway" not in default["services"]
    services = compose_all["services"]
    assert services["tws-sim"]["profiles"] == ["demo"]
    assert services["ib-gateway"]["profiles"] == ["ib-gateway"]
    bridge_port = services["gateway-bridge"]["environment"]["IB_PORT"]
    for name in ("tws-sim", "ib-gateway"):
        assert "ibkr" in services[name]["networks"]["wheeldesk"]["aliases"], name
    command = services["tws-sim"]["command"]
    assert command[command.index("--port") + 1] == bridge_port
    gateway = services["ib-gateway"]
    assert gateway["image"].startswith("ghcr.io/gnzsnz/ib-gateway:")
    env = gateway["environment"]
    for name in (
        "TWS_USERID",
        "TRADING_MODE",
        "READ_ONLY_API",
        "TWOFA_TIMEOUT_ACTION",
        "AUTO_RESTART_TIME",
    ):
        assert name in env, name
    assert env["TRADING_MODE"] == "paper"


def test_ib_gateway_keeps_its_settings_and_reads_the_password_from_a_secret(
    compose_all: dict,
) -> None:
    gateway = compose_all["services"]["ib-gateway"]
    env = gateway["environment"]
    tag = gateway["image"].rsplit(":", 1)[1]
    assert re.fullmatch(r"\d+\.\d+\.\d+\w*", tag), f"not an exact Gateway version: {tag}"
    # IBC's --tws_settings_path: the variable and the volume both, or nothing is kept.
    (volume,) = gateway["volumes"]
    assert volume["source"] == "ib-gateway-settings"
    assert env["TWS_SETTINGS_PATH"] == volume["target"]
    # The password is a Docker secret made from TWS_PASSWORD, never an environment variable.
    assert "TWS_PASSWORD" not in env
    assert env["TWS_PASSWORD_FILE"] == "/run/secrets/tws_password"
    assert [s["source"] for s in gateway["secrets"]] == ["tws_password"]
    assert compose_all["secrets"]["tws_password"]["environment"] == "TWS_PASSWORD"
    assert env["TWOFA_TIMEOUT_ACTION"] == "restart" and env["RELOGIN_AFTER_TWOFA_TIMEOUT"] == "yes"
    assert env["BYPASS_WARNING"] == "yes"  # the explicit, documented choice (docs/deploy.md)
    docs = (ROOT / "docs" / "deploy.md").read_text()
    for name in ("BYPASS_WARNING", "TWS_SETTINGS_PATH", "TWS_PASSWORD_FILE", "VNC_SERVER_PASSWORD"):
        assert name in docs, f"docs/deploy.md does not explain {name}"


def test_no_moving_image_tags() -> None:
    """Exact versions only: `:latest`/`:stable` (or a bare major) would change under a restart."""
    for path in [COMPOSE_FILE, *sorted((ROOT / "deploy" / "coolify").glob("*.y*ml"))]:
        for line in path.read_text().splitlines():
            code = line.split("#", 1)[0]
            assert not re.search(r":-?(latest|stable)\b", code), f"{path}: {line.strip()}"
    model = compose_model("demo", "ib-gateway")
    for name, svc in model["services"].items():
        image = svc["image"]
        assert re.search(r":v?\d+\.\d+\.\d+", image), f"{name}: {image}"


def test_healthchecks_and_start_order(compose_all: dict) -> None:
    services = compose_all["services"]
    for name, svc in services.items():
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dependency, spec in svc.get("depends_on", {}).items():
            assert spec["condition"] == "service_healthy", f"{name} -> {dependency}"
            if spec.get("required") is False and dependency not in services:
                continue  # a profile's service (postgres) not enabled here
            assert "healthcheck" in services[dependency]
    assert set(services["web"]["depends_on"]) == {
        "nats",
        "gateway-bridge",
        "screener",
        "notifier",
        "postgres",
    }
    assert set(services["worker"]["depends_on"]) == {"web", "postgres"}


@pytest.mark.parametrize("name", ["gateway-bridge", "screener", "notifier", "web"])
def test_build_port_and_healthcheck_match_the_code(compose_all: dict, name: str) -> None:
    svc = compose_all["services"][name]
    service = BY_NAME[name]
    assert svc["build"]["context"] == str(ROOT)  # the repository root
    assert svc["build"]["dockerfile"] == f"services/{name}/Dockerfile"
    assert (ROOT / svc["build"]["dockerfile"]).exists()
    cls = settings_class(service.settings_module)  # type: ignore[arg-type]
    assert cls is not None
    default_port = cls.model_fields[service.port_field].default  # type: ignore[index]
    assert svc["environment"][service.port_field.upper()] == str(default_port)  # type: ignore[union-attr]
    host_field = service.port_field.replace("_port", "_host")  # type: ignore[union-attr]
    assert svc["environment"][host_field.upper()] == "0.0.0.0"
    probe = " ".join(svc["healthcheck"]["test"])
    assert f"127.0.0.1:{default_port}/healthz" in probe


def test_worker_runs_the_web_image(compose_all: dict) -> None:
    services = compose_all["services"]
    worker, web = services["worker"], services["web"]
    assert worker["build"]["dockerfile"] == web["build"]["dockerfile"] == "services/web/Dockerfile"
    assert worker["build"]["target"] == "worker" and "target" not in web["build"]
    assert worker["command"] == ["worker"]
    assert web["command"] == ["web"]
    assert worker["healthcheck"]["test"] == ["CMD", "/app/docker-entrypoint.sh", "worker-alive"]


@pytest.mark.parametrize("name", sorted(COMPOSE_SETTINGS))
def test_every_setting_is_in_compose(compose_all: dict, name: str) -> None:
    cls = settings_class(COMPOSE_SETTINGS[name])
    if cls is None:
        pytest.skip(f"{name} has no settings class")
    expected = env_names(cls)
    if name in OWN_SETTINGS_ONLY:
        expected -= env_names(BaseServiceSettings)
    present = set(compose_all["services"][name].get("environment") or {})
    missing = sorted(expected - present)
    assert not missing, f"{name}: settings missing from deploy/docker-compose.yml: {missing}"


def test_every_setting_is_in_env_example() -> None:
    documented = env_example_names()
    missing: dict[str, list[str]] = {}
    for name, module in COMPOSE_SETTINGS.items():
        cls = settings_class(module)
        if cls is None:
            continue
        gaps = sorted(env_names(cls) - set(documented))
        if gaps:
            missing[name] = gaps
    assert not missing, f"settings missing from .env.example: {missing}"


def test_secrets_are_marked_and_empty_in_env_example() -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    documented = env_example_names()
    for module in set(COMPOSE_SETTINGS.values()):
        cls = settings_class(module)
        if cls is None:
            continue
        for secret in secret_env_names(cls):
            number = documented[secret]
            assert lines[number - 1] == f"{secret}=", f"{secret} must have no example value"
            comment = "\n".join(lines[max(0, number - 4) : number - 1])
            assert "SECRET" in comment, f"{secret} is not marked SECRET in .env.example"


def test_env_example_loads_as_the_services_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The example's values parse in every settings class (types, ranges, literals)."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    for module in set(COMPOSE_SETTINGS.values()):
        cls = settings_class(module)
        if cls is None:
            continue
        prefix = (cls.model_config.get("env_prefix") or "").upper()
        fields = {
            k.removeprefix(prefix).lower(): v
            for k, v in values.items()
            if k in env_names(cls) and v != ""
        }
        unknown = set(fields) - set(cls.model_fields)  # a value no field takes is not checked
        assert not unknown, (module, unknown)
        cls(**{**fields, "demo_mode": "true"})


@pytest.mark.parametrize("name", sorted(COMPOSE_SETTINGS))
def test_compose_sets_nothing_the_code_does_not_read(compose_all: dict, name: str) -> None:
    """A misspelt variable would be silently ignored by the service: catch it here."""
    cls = settings_class(COMPOSE_SETTINGS[name])
    if cls is None:
        pytest.skip(f"{name} has no settings class")
    present = set(compose_all["services"][name].get("environment") or {})
    unknown = sorted(present - env_names(cls))
    assert not unknown, f"{name}: compose sets variables no setting reads: {unknown}"


def test_every_compose_variable_is_documented_in_env_example() -> None:
    code = "\n".join(
        line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", code))
    coolify_magic = {v for v in used if v.startswith("SERVICE_")}
    missing = sorted(used - coolify_magic - set(env_example_names()))
    assert not missing, f"compose variables missing from .env.example: {missing}"
