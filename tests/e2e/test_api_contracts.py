"""Every FastAPI service's OpenAPI contract, fuzzed through the running stack.

schemathesis (its CLI, as a user would run it) sends generated requests with the bearer token
and runs every check: no 5xx, every response matches the schema the service publishes, every
status code it answers is documented, bad data is refused and data the schema admits is
accepted (the schemas state the rules the APIs check; schemathesis.toml at the repo root turns
that last check off only where JSON Schema cannot state the rule, saying why). Without the
token every operation but the health probes answers 401.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from wheeldesk_testing.stack import Stack

ST = str(Path(sys.executable).parent / "st")
CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"
SERVICES = ("bridge", "screener", "notifier")
OPEN = {"/healthz", "/readyz"}


def _url(stack: Stack, service: str) -> str:
    return getattr(stack, f"{service}_url")


@pytest.mark.slow
@pytest.mark.parametrize("service", SERVICES)
def test_schemathesis_no_server_error_and_schema_conformance(
    fault_stack: Stack, service: str
) -> None:
    stack = fault_stack
    base = _url(stack, service)
    result = subprocess.run(
        [
            ST,
            # Every check (schemathesis' default, positive data acceptance included); the
            # config turns that one check off only for the operations whose rule JSON Schema
            # cannot state, each with its reason. `--checks all` would override it.
            "--config-file",
            str(CONFIG),
            "run",
            f"{base}/openapi.json",
            "--header",
            f"Authorization: Bearer {stack.env['INTERNAL_API_TOKEN']}",
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            "12",
            "--seed",
            "11",
            "--no-shrink",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--suppress-health-check",
            "all",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    # It really exercised the API (not an empty schema or an unreachable server).
    assert re.search(r"\b[1-9]\d* passed", output) or "passed" in output, output[-3000:]


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_without_the_token_is_401(fault_stack: Stack, service: str) -> None:
    stack = fault_stack
    base = _url(stack, service)
    token = {"Authorization": f"Bearer {stack.env['INTERNAL_API_TOKEN']}"}
    assert httpx.get(f"{base}/openapi.json", timeout=10).status_code == 401  # schema is private
    schema = httpx.get(f"{base}/openapi.json", headers=token, timeout=10).json()
    checked = 0
    for path, operations in schema["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "X1", path)
        for method in operations:
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            response = httpx.request(method.upper(), f"{base}{concrete}", json={}, timeout=15)
            if path in OPEN:
                assert response.status_code == 200, f"{method} {path}: {response.status_code}"
                continue
            checked += 1
            assert response.status_code == 401, (
                f"{service} {method.upper()} {path} without a token: "
                f"{response.status_code} {response.text[:200]}"
            )
            body = response.json()
            assert body["code"], body
            # A wrong token is refused the same way.
            wrong = httpx.request(
                method.upper(),
                f"{base}{concrete}",
                json={},
                headers={"Authorization": "Bearer not-the-token"},
                timeout=15,
            )
            assert wrong.status_code == 401, f"{method} {path} wrong token: {wrong.status_code}"
    assert checked >= 2, f"{service} exposes {checked} protected operations"
