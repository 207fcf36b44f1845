"""A 20-symbol scan with IB's latency model on, beside the same scan with it off (issue 18).

tws-sim answers everything at once unless `--latency realistic`: then each request waits a
seeded lognormal delay around IB's (option snapshot median 1.3 s, stock snapshot 0.25 s,
contract details 0.3 s, a whole chain 0.8 s, historical data 0.35 s behind IB's soft throttle;
tws-sim's README). Each figure is a fresh stack (cold caches in the bridge and the screener),
at the harness's pinned moment (Wed 10:30 ET, market open), the 20 most volatile names of the
universe, `POST /v1/scans` to the screener through the bridge: wall time, signals, and the IB
requests the scan cost per symbol from tws-sim's counter (`GET /state/requests`, reset just
before). The demo (`make run`) runs with the latency model on.
"""

from __future__ import annotations

import time

import httpx
from wheeldesk_testing.procs import TEST_TOKEN
from wheeldesk_testing.stack import Stack

from bench.system import _by_volatility

SYMBOLS = 20
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}"}


def _scan(latency: str) -> dict:
    stack = Stack.start(tws_args=["--latency", latency])
    try:
        symbols = _by_volatility(stack)[:SYMBOLS]
        stack.control("/control/reset-counters", {})
        start = time.perf_counter()
        answer = httpx.post(
            f"{stack.screener_url}/v1/scans",
            json={"symbols": symbols},
            headers=HEADERS,
            timeout=900,
        )
        wall = time.perf_counter() - start
        answer.raise_for_status()
        body = answer.json()
        cost = stack.control("/state/requests")
    finally:
        stack.stop()
    return {
        "wall": wall,
        "signals": len(body.get("signals", [])),
        "errors": len(body.get("errors", []) or []),
        "requests": cost["total"],
        "snapshots": cost["market_data"]["snapshots"],
    }


def run() -> list[dict]:
    off = _scan("off")
    real = _scan("realistic")
    n = SYMBOLS
    rows: list[dict] = []
    for label, r in (("latency off", off), ("latency realistic", real)):
        rows += [
            {
                "name": f"{n}-symbol scan, {label}: wall time",
                "value": r["wall"],
                "unit": "s",
                "reference": f"{r['signals']} signals, {r['errors']} symbol errors",
            },
            {
                "name": f"{n}-symbol scan, {label}: IB requests per symbol",
                "value": r["requests"] / n,
                "unit": "requests",
                "reference": f"{r['requests']} in all, {r['snapshots']} market data snapshots",
            },
        ]
    rows.append(
        {
            "name": f"{n}-symbol scan: realistic / off wall time",
            "value": real["wall"] / off["wall"],
            "unit": "×",
            "reference": "the latency model's cost on a cold scan",
            "ratio": real["wall"] / off["wall"],
        }
    )
    return rows
