"""`/metrics`: Prometheus text for the internal token, login for everyone else."""

from __future__ import annotations

import pytest
from wheeldesk_web.config import SETTINGS

pytestmark = pytest.mark.django_db


def test_metrics_with_the_internal_token(client) -> None:
    token = SETTINGS.internal_api_token.get_secret_value()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"wheeldesk_web_sse_clients 0.0" in response.content


def test_metrics_refuses_a_wrong_token(client) -> None:
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
