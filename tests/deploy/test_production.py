"""Production settings: Django's deploy checks are clean, and no service starts on a default secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import PROD_SECRETS, ROOT

MANAGE = ROOT / "services" / "web" / "manage.py"


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    # Only what is given: no `.env`, no DEMO_MODE from the runner (cwd is outside the repo).
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        argv, env={**base, **env}, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def production_env(tmp_path: Path) -> dict[str, str]:
    return {
        "DEMO_MODE": "false",
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": "wheeldesk.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://wheeldesk.example.com",
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/data/wheeldesk.sqlite3",
        **PROD_SECRETS,
    }


def test_check_deploy_is_clean_in_production(tmp_path: Path) -> None:
    result = run(
        [sys.executable, str(MANAGE), "check", "--deploy", "--fail-level", "WARNING"],
        production_env(tmp_path),
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_what_production_must_not_have(tmp_path: Path) -> None:
    """The check is real: debug on and plain-HTTP demo settings are reported."""
    env = {**production_env(tmp_path), "DEMO_MODE": "true", "DJANGO_DEBUG": "true"}
    result = run([sys.executable, str(MANAGE), "check", "--deploy"], env, tmp_path)
    output = result.stdout + result.stderr
    for code in ("security.W018", "security.W004", "security.W012"):
        assert code in output, f"{code} not reported:\n{output}"


def test_production_security_settings(tmp_path: Path) -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, sorted(s.ALLOWED_HOSTS), "
        "s.CSRF_TRUSTED_ORIGINS)"
    )
    env = {**production_env(tmp_path), "DJANGO_SETTINGS_MODULE": "wheeldesk_web.settings"}
    result = run([sys.executable, "-c", code], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "False True True True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https') "
        "['wheeldesk.example.com'] ['https://wheeldesk.example.com']"
    )  # ALLOWED_HOSTS exactly as configured: the healthcheck is answered before the Host check


SERVICE_MODULES = ["gateway_bridge", "screener", "notifier", "wheeldesk_web"]


@pytest.mark.parametrize("module", SERVICE_MODULES)
@pytest.mark.parametrize("token", [None, "", "dev-internal-token-change-me"])
def test_default_or_empty_secret_refused_outside_demo_mode(
    module: str, token: str | None, tmp_path: Path
) -> None:
    env = {**production_env(tmp_path)}
    if token is None:
        env.pop("INTERNAL_API_TOKEN")
    else:
        env["INTERNAL_API_TOKEN"] = token
    result = run([sys.executable, "-m", module], env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "configuration error: INTERNAL_API_TOKEN must be set to a non-default secret "
        "when DEMO_MODE=false"
    ]


def test_web_refuses_the_default_django_secret_key(tmp_path: Path) -> None:
    env = {**production_env(tmp_path)}
    env.pop("DJANGO_SECRET_KEY")
    result = run([sys.executable, "-m", "wheeldesk_web"], env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: DJANGO_SECRET_KEY must be set to a non-default secret "
        "when DEMO_MODE=false"
    ]


def test_a_bad_setting_is_one_line_and_never_shows_a_secret(tmp_path: Path) -> None:
    env = {**production_env(tmp_path), "BRIDGE_PORT": "eighty"}
    result = run([sys.executable, "-m", "gateway_bridge"], env, tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("configuration error: BRIDGE_PORT:")
    assert PROD_SECRETS["INTERNAL_API_TOKEN"] not in result.stdout + result.stderr
