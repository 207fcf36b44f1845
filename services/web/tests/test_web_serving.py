"""The web as launched (`python -m wheeldesk_web`, two worker processes sharing the port): pages on
the WSGI threads and the live stream on the ASGI handler (asgi.py), then a clean stop on SIGTERM
(`docker stop`) with a stream open. The other services are down, so pages show banners."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from wheeldesk import subjects
from wheeldesk.schemas.common import DataType
from wheeldesk.schemas.market import QuoteEvent
from wheeldesk_testing.e2e import SSEReader, publish_raw, wait_until
from wheeldesk_testing.procs import free_port

MANAGE = Path(__file__).resolve().parents[1] / "manage.py"


def test_one_port_serves_pages_forms_csv_and_the_live_stream(
    nats_server, service_factory, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{free_port()}"
    env = {
        "NATS_URL": nats_server.url,
        "BRIDGE_URL": dead,
        "SCREENER_URL": dead,
        "NOTIFIER_URL": dead,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "DATA_DIR": str(tmp_path / "data"),
        "WEB_WORKERS": "2",
    }
    for step in (["migrate", "--noinput", "-v", "0"], ["ensure_demo_user", "demo", "pw-serving-1"]):
        subprocess.run(
            [sys.executable, str(MANAGE), *step],
            env={**os.environ, "DEMO_MODE": "true", **env},
            check=True,
            capture_output=True,
            timeout=300,
        )
    web = service_factory("web", env)
    client = httpx.Client(base_url=web.url, timeout=30)
    client.get("/accounts/login/")
    login = client.post(  # a form body read through the WSGI side
        "/accounts/login/",
        data={
            "username": "demo",
            "password": "pw-serving-1",
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
        headers={"Referer": f"{web.url}/accounts/login/"},
    )
    assert login.status_code == 302 and login.headers["location"] == "/dashboard/"

    stream = SSEReader(client, "/live/stream", {"symbols": "KO"})
    try:
        wait_until(lambda: stream.seen("retry: 3000"), 30, "the live stream to open")
        assert stream.status == 200
        # With a stream held open on the same port, pages still answer.
        dashboard = client.get("/dashboard/")
        assert dashboard.status_code == 200
        assert "IBKR disconnected" in dashboard.text and "?symbols=" in dashboard.text
        export = client.get("/signals/export.csv")  # a streaming response through WSGI
        assert export.status_code == 200 and export.headers["content-type"] == "text/csv"
        assert export.text.splitlines()[0].startswith("kind,")
        quote = QuoteEvent(symbol="KO", last=61.23, market_data_type=DataType.DELAYED)
        payload = quote.model_dump_json().encode()

        def arrived() -> bool:
            # Published until seen: the process's NATS hub subscribes when the first stream opens.
            publish_raw(nats_server.url, [(subjects.quote("KO"), payload)])
            return stream.seen("61.23")

        wait_until(arrived, 30, "the KO quote on the live stream")
        assert "event: quote-KO" in stream.lines
        assert web.proc is not None
        web.proc.send_signal(signal.SIGTERM)  # to the launcher only, as `docker stop` does
        assert web.proc.wait(30) == 0  # the open stream was ended, not waited for
    finally:
        stream.close()
        client.close()
    log = web.log_text()
    assert "Traceback" not in log and log.count("Finished server process") == 2
