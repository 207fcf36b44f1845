"""The shared base: config errors are one line, auth guards everything but health."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import Field
from wheeldesk.app import create_app
from wheeldesk.settings import BaseServiceSettings, ConfigError, load_settings


class _Settings(BaseServiceSettings):
    ib_port: int = Field(default=4002, ge=1, le=65535)


def test_bad_port_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IB_PORT", "four-thousand")
    with pytest.raises(ConfigError) as err:
        load_settings(_Settings, exit_on_error=False)
    assert "IB_PORT" in str(err.value)
    assert "\n" not in str(err.value)


def test_default_secret_refused_outside_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_MODE", "false")
    with pytest.raises(ConfigError, match="INTERNAL_API_TOKEN"):
        load_settings(_Settings, exit_on_error=False)
    monkeypatch.setenv("INTERNAL_API_TOKEN", "a-real-secret-value-0123456789abcdef")
    monkeypatch.setenv("NATS_USER", "screener")
    monkeypatch.setenv("NATS_PASSWORD", "nats-secret-value-0123456789abcdef")
    assert load_settings(_Settings, exit_on_error=False).ib_port == 4002


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"INTERNAL_API_TOKEN": "x"},
            "INTERNAL_API_TOKEN is 1 characters; use at least 32 when DEMO_MODE=false",
        ),
        (
            {"INTERNAL_API_TOKEN": "a" * 31},
            "INTERNAL_API_TOKEN is 31 characters; use at least 32 when DEMO_MODE=false",
        ),
        (
            {"NATS_PASSWORD": "", "NATS_USER": ""},
            "NATS_PASSWORD must be set to a non-default secret when DEMO_MODE=false",
        ),
        (
            {"NATS_PASSWORD": "short"},
            "NATS_PASSWORD is 5 characters; use at least 32 when DEMO_MODE=false",
        ),
        ({"NATS_USER": ""}, "NATS_USER must be set with NATS_PASSWORD"),
    ],
)
def test_weak_or_missing_secrets_refused_outside_demo(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    """A one-character token or an unauthenticated NATS is no perimeter (issue 17.6)."""
    monkeypatch.setenv("DEMO_MODE", "false")
    monkeypatch.setenv("INTERNAL_API_TOKEN", "t" * 32)
    monkeypatch.setenv("NATS_USER", "screener")
    monkeypatch.setenv("NATS_PASSWORD", "n" * 32)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings(_Settings, exit_on_error=False)
    assert str(err.value).startswith(f"configuration error: {message}")


def test_nats_credentials_in_the_url_count_and_settings_put_them_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEMO_MODE", "false")
    monkeypatch.setenv("INTERNAL_API_TOKEN", "t" * 32)
    monkeypatch.setenv("NATS_URL", f"nats://web:{'p' * 32}@nats:4222")
    assert load_settings(_Settings, exit_on_error=False).nats_user is None
    monkeypatch.setenv("NATS_URL", "nats://nats:4222")
    monkeypatch.setenv("NATS_USER", "web")
    monkeypatch.setenv("NATS_PASSWORD", "p@ss/" + "w" * 30)
    settings = load_settings(_Settings, exit_on_error=False)
    assert settings.nats_url == f"nats://web:p%40ss%2F{'w' * 30}@nats:4222"


def test_service_exits_with_one_line_not_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "screener"],
        env={"SCREENER_PORT": "eighty", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("configuration error: SCREENER_PORT")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_auth_and_health() -> None:
    settings = _Settings(internal_api_token="tok-123456789")  # type: ignore[arg-type]
    app = create_app("demo", settings, readiness={"thing": lambda: "not yet"})

    @app.get("/v1/thing")
    async def thing() -> dict[str, int]:
        return {"n": 1}

    client = TestClient(app, base_url="http://127.0.0.1:8001")
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["reason"] == "thing: not yet"
    denied = client.get("/v1/thing")
    assert denied.status_code == 401
    assert denied.json()["code"] == "unauthorized"
    ok = client.get(
        "/v1/thing", headers={"Authorization": "Bearer tok-123456789", "X-Request-ID": "rid-1"}
    )
    assert ok.json() == {"n": 1}
    assert ok.headers["X-Request-ID"] == "rid-1"
    assert client.get("/v1/thing", headers={"Authorization": "Bearer wrong"}).status_code == 401


def _app(**overrides: object) -> FastAPI:
    settings = _Settings(internal_api_token="tok-123456789", **overrides)  # type: ignore[arg-type]
    return create_app("demo", settings)


@pytest.mark.parametrize(
    "host",
    ["evil.example.com", "127.0.0.1.nip.io", "attacker.test:8001", "", "localhost.evil.com"],
)
def test_a_foreign_host_is_refused_before_auth_or_health(host: str) -> None:
    """DNS rebinding: a page whose name resolves to 127.0.0.1 sends its own name as Host."""
    client = TestClient(_app(), base_url="http://127.0.0.1:8001")
    for path in ("/healthz", "/v1/anything", "/openapi.json"):
        r = client.get(path, headers={"Host": host, "Authorization": "Bearer tok-123456789"})
        assert r.status_code == 400, (path, r.text)
        assert r.json()["code"] == "host_not_allowed" and r.json()["field"] == "Host"


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8001", "localhost", "LOCALHOST:1", "[::1]:8001", "gateway-bridge:8001"]
)
def test_allowed_hosts_pass(host: str) -> None:
    client = TestClient(_app(), base_url="http://127.0.0.1:8001")
    assert client.get("/healthz", headers={"Host": host}).status_code == 200


def test_allowed_hosts_setting_replaces_the_defaults() -> None:
    client = TestClient(_app(api_allowed_hosts="bridge.internal"), base_url="http://127.0.0.1")
    assert client.get("/healthz").status_code == 400
    assert client.get("/healthz", headers={"Host": "bridge.internal"}).status_code == 200


def test_docs_behind_the_token_in_demo_and_off_outside() -> None:
    auth = {"Authorization": "Bearer tok-123456789"}
    demo = TestClient(_app(), base_url="http://127.0.0.1")
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert demo.get(path).status_code == 401, path
        assert demo.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert demo.get(path, headers=auth).status_code == 200, path
    prod = TestClient(_app(demo_mode=False), base_url="http://127.0.0.1")
    assert prod.get("/docs", headers=auth).status_code == 404
    assert prod.get("/redoc", headers=auth).status_code == 404
    assert prod.get("/openapi.json").status_code == 401
    assert prod.get("/openapi.json", headers=auth).json()["info"]["title"] == "Wheeldesk demo"


def test_position_avg_price_is_per_share_for_options() -> None:
    from wheeldesk.schemas.account import Position

    put = Position(
        account_id="DU1",
        symbol="AAPL",
        sec_type="OPT",
        quantity=-1,
        avg_cost=217.39,
        multiplier=100,
    )
    stock = Position(account_id="DU1", symbol="KO", sec_type="STK", quantity=200, avg_cost=60.53)
    assert put.avg_price == pytest.approx(2.1739)
    assert stock.avg_price == 60.53
    assert put.model_dump()["avg_price"] == pytest.approx(2.1739)
    # A source that left the multiplier at the default 1: still 100 shares a contract.
    bare = put.model_copy(update={"multiplier": 1})
    assert bare.avg_price == pytest.approx(2.1739) and bare.contract_multiplier == 100
