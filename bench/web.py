"""Web (1 of 2) speed: the signals page with 1,000 stored signals, and the dashboard under load.

Starts the whole stack on tws-sim (loopback only), then measures in a child process (Django is
configured there against the stack's SQLite file, so other benches are unaffected):
- signals page server time (Django test client in-process: no network), median and p95, with
  the SQL queries the page runs;
- dashboard p95 over HTTP with 20 concurrent logged-in clients, with its SQL queries per page.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIGNALS = 1000
CLIENTS = 20
REQUESTS_PER_CLIENT = 15


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _child() -> None:
    """Runs with DJANGO_SETTINGS_MODULE and the stack's env; prints one JSON object."""
    import django

    django.setup()
    from datetime import date, timedelta

    import httpx
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from wheeldesk_web.signals.models import ScanRun, Signal

    setup_test_environment()
    user = get_user_model().objects.get(username=os.environ["BENCH_USER"])
    run = ScanRun.objects.create(
        user=user, status=ScanRun.DONE, symbols=["KO"], signal_count=SIGNALS
    )
    expiry = date.today() + timedelta(days=30)
    Signal.objects.bulk_create(
        Signal(
            scan=run, kind="CSP" if i % 3 else "CC", symbol=f"S{i % 50:02d}", expiry=expiry,
            strike=50 + i % 40, right="P", premium=1 + i % 7 / 10, collateral=5000,
            yield_pct=1.2, apy=5 + i % 60, pop=70 + i % 25, abs_delta=0.1 + i % 20 / 100,
            breakeven=49, expected_move=3, distance_pct=4, spread_pct=3, open_interest=500,
            volume=50, iv=0.3, iv_rank=40, dte=30, underlying_price=55, score=i % 100,
            tier="ABC"[i % 3], reasons=["APY above your minimum", "0.20 delta, inside your band"],
            market_data_type="live",
        )
        for i in range(SIGNALS)
    )  # fmt: skip
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    client.get("/signals/?sort=-apy")  # warm up templates and caches
    times = []
    for _ in range(20):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get("/signals/?sort=-apy")
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    signals_queries = len(queries.captured_queries)
    client.get("/dashboard/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/dashboard/").status_code == 200
    dashboard_queries = len(queries.captured_queries)

    base = os.environ["BENCH_WEB_URL"]

    def session() -> httpx.Client:
        http = httpx.Client(base_url=base, timeout=30)
        http.get("/accounts/login/")
        token = http.cookies["csrftoken"]
        http.post(
            "/accounts/login/",
            data={
                "username": os.environ["BENCH_USER"],
                "password": os.environ["BENCH_PASSWORD"],
                "csrfmiddlewaretoken": token,
            },
            headers={"Referer": f"{base}/accounts/login/"},
        )
        assert http.get("/dashboard/").status_code == 200
        return http

    sessions = [session() for _ in range(CLIENTS)]

    def hammer(http: httpx.Client) -> list[float]:
        out = []
        for _ in range(REQUESTS_PER_CLIENT):
            start = time.perf_counter()
            response = http.get("/dashboard/")
            out.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200 and "DU7654321" in response.text
        return out

    with ThreadPoolExecutor(CLIENTS) as pool:
        latencies = [t for chunk in pool.map(hammer, sessions) for t in chunk]
    print(
        json.dumps(
            {
                "signals_median": statistics.median(times),
                "signals_p95": p95(times),
                "signals_queries": signals_queries,
                "dashboard_p95": p95(latencies),
                "dashboard_median": statistics.median(latencies),
                "dashboard_queries": dashboard_queries,
                "dashboard_requests": len(latencies),
            }
        )
    )


def run() -> list[dict]:
    from wheeldesk.testing.stack import Stack

    load_before = os.getloadavg()[0]
    stack = Stack.start()
    try:
        env = {
            **os.environ,
            **stack.env,
            "DJANGO_SETTINGS_MODULE": "wheeldesk_web.settings",
            "BENCH_WEB_URL": stack.web_url,
            "BENCH_USER": stack.username,
            "BENCH_PASSWORD": stack.password,
        }
        out = subprocess.run(
            [sys.executable, "-c", "import bench.web as w; w._child()"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=110,
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        r = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        stack.stop()
    return [
        {
            "name": f"signals page server time, {SIGNALS:,} signals stored (median; 100 rows per page)",
            "value": r["signals_median"],
            "unit": "ms",
            "target": "<= 150 ms",
        },
        {
            "name": "signals page server time (p95)",
            "value": r["signals_p95"],
            "unit": "ms",
            "target": "<= 150 ms",
        },
        {"name": "signals page SQL queries", "value": r["signals_queries"], "unit": "queries"},
        {
            "name": f"dashboard p95, {CLIENTS} concurrent clients over loopback HTTP ({r['dashboard_requests']} requests)",
            "value": r["dashboard_p95"],
            "unit": "ms",
            "target": "<= 100 ms",
        },
        {
            "name": "dashboard median under the same load",
            "value": r["dashboard_median"],
            "unit": "ms",
        },
        {"name": "dashboard SQL queries", "value": r["dashboard_queries"], "unit": "queries"},
        {
            # Context: other processes on this machine compete for the same cores.
            "name": "machine load before the run (1-min load average)",
            "value": load_before,
            "unit": f"on {os.cpu_count()} cores",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
