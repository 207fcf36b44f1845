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
    # Other tests in this process may hold streams open: compare with the live gauge itself.
    from wheeldesk_web.core.instruments import SSE_CLIENTS

    connected = SSE_CLIENTS._value.get()
    assert f"wheeldesk_web_sse_clients {connected}".encode() in response.content


def test_metrics_refuses_a_wrong_token(client) -> None:
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


WORKER = """
import django, sys
django.setup()
from wheeldesk_web.live.hub import Hub
hub = Hub("nats://127.0.0.1:1")
listeners = [hub.register(frozenset({"KO"})) for _ in range(int(sys.argv[1]))]
for listener in listeners[: int(sys.argv[2])]:
    hub.unregister(listener)
if int(sys.argv[2]):
    hub.unregister(listeners[0])  # a second unregister of the same stream counts nothing
"""


def _value(text: str, name: str) -> float:
    [line] = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
    return float(line.split()[1])


def test_metrics_sum_the_worker_processes(client, tmp_path, monkeypatch) -> None:
    """Two processes (as uvicorn's two workers) write to one multiprocess directory; one
    scrape of either sees both: 2+3 streams opened, 1+3 still connected."""
    import os
    import subprocess
    import sys

    from wheeldesk_web.core.metrics import MULTIPROC_ENV, prepare_multiprocess

    monkeypatch.setenv(MULTIPROC_ENV, "")  # recorded: whatever the test sets is undone
    monkeypatch.delenv(MULTIPROC_ENV)
    (tmp_path / "prometheus" / "8000").mkdir(parents=True)
    stale = tmp_path / "prometheus" / "8000" / "counter_999.db"
    stale.write_bytes(b"from an earlier run")
    monkeypatch.setattr(SETTINGS, "web_port", 8000)
    assert prepare_multiprocess(1, tmp_path) is None and MULTIPROC_ENV not in os.environ
    path = prepare_multiprocess(2, tmp_path)
    assert path == tmp_path / "prometheus" / "8000" and not stale.exists()
    assert os.environ[MULTIPROC_ENV] == str(path)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "wheeldesk_web.settings"}
    for opened, closed in ((2, 1), (3, 0)):
        subprocess.run(
            [sys.executable, "-c", WORKER, str(opened), str(closed)],
            env=env,
            check=True,
            timeout=120,
        )
    token = SETTINGS.internal_api_token.get_secret_value()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    text = response.content.decode()
    assert _value(text, "wheeldesk_web_sse_clients") == 4.0
    assert _value(text, "wheeldesk_web_sse_connections_total") == 5.0


@pytest.mark.slow
def test_metrics_of_the_served_web_count_streams_on_every_worker(stack) -> None:  # type: ignore[no-untyped-def]
    """The web as launched (`python -m wheeldesk_web`, WEB_WORKERS=2): six live streams,
    each on its own connection (so on either worker); every scrape counts all six."""
    import contextlib
    import time

    import httpx
    from wheeldesk_testing.e2e import login
    from wheeldesk_testing.procs import TEST_TOKEN

    name = "wheeldesk_web_sse_connections_total"

    def opened() -> float:
        r = httpx.get(f"{stack.web_url}/metrics", headers={"Authorization": f"Bearer {TEST_TOKEN}"})
        assert r.status_code == 200, r.text[:300]
        return _value(r.text, name)

    session = login(stack)
    before = opened()
    with contextlib.ExitStack() as streams:
        for _ in range(6):
            client = streams.enter_context(
                httpx.Client(base_url=stack.web_url, cookies=session.cookies, timeout=30)
            )
            response = streams.enter_context(client.stream("GET", "/live/stream?symbols=KO"))
            assert response.status_code == 200
        deadline = time.monotonic() + 30
        while opened() - before < 6:
            assert time.monotonic() < deadline, "the streams were not all counted"
            time.sleep(0.1)
        assert [opened() - before for _ in range(8)] == [6.0] * 8
    session.close()
