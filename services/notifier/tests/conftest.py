"""Notifier fixtures: a real notifier process on its own nats-server, sending to a fake Resend.

`fake_resend`, `fresh_nats` and `service_factory` come from the `wheeldesk_testing.fixtures`
plugin. Each test gets its own nats-server because the EMAIL stream is a work queue: a
leftover message from one test must not be sent by the next one's notifier.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from wheeldesk_testing.procs import TEST_TOKEN, Proc

FAST_RETRIES = {
    "EMAIL_MAX_ATTEMPTS": "4",
    "EMAIL_BACKOFF_BASE": "0.2",
    "EMAIL_BACKOFF_MAX": "1",
    "EMAIL_RATE_LIMIT": "200",
}


@pytest.fixture
def notifier_env(fresh_nats, fake_resend, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "NATS_URL": fresh_nats.url,
        "EMAIL_BACKEND": "resend",
        "RESEND_API_KEY": "re_test_0123456789",
        "RESEND_API_URL": fake_resend.url,
        "EMAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "WEB_PUBLIC_URL": "https://wheeldesk.example.test",
        **FAST_RETRIES,
    }


@pytest.fixture
def start_notifier(service_factory, notifier_env) -> Callable[..., Proc]:  # type: ignore[no-untyped-def]
    def start(**env: str) -> Proc:
        return service_factory("notifier", env={**notifier_env, **env})

    return start


@pytest.fixture
def api() -> Callable[[Proc], httpx.Client]:
    clients: list[httpx.Client] = []

    def make(proc: Proc) -> httpx.Client:
        client = httpx.Client(
            base_url=proc.url, headers={"Authorization": f"Bearer {TEST_TOKEN}"}, timeout=15
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
