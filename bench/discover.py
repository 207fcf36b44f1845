"""Discovery beyond the watchlist: one IB scanner subscription, then the wheel screen on its top 20.

One stack (`Stack`, IB's limits on: 100 lines, 50 msg/s pacing), caches cold for every
symbol measured. First the reference, a 20-symbol watchlist scan (`POST /v1/scans` to the
screener) over the curated names of tws-sim's universe; then the Discover page's first ready
idea ("liquid optionable stocks $20–$200 with high IV over historical",
HIGH_OPT_IMP_VOLAT_OVER_HIST) through the bridge's `POST /v1/scanner/run`: IB's rows alone
(50, no details), then the 20 rows the page shows with their details (name, sector, price,
market cap, earnings), then the wheel screen on those 20 names. The scanner's names are
tws-sim's synthetic ones (its curated 50 are the watchlist's), so nothing is warm for them.
Each figure is wall time and the IB requests it cost from tws-sim's request counter
(`GET /state/requests`, reset before each step).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from wheeldesk_testing.procs import TEST_TOKEN
from wheeldesk_testing.stack import Stack

HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}"}
IDEA = {
    "scan_code": "HIGH_OPT_IMP_VOLAT_OVER_HIST",
    "filters": {"priceAbove": 20, "priceBelow": 200, "avgOptVolumeAbove": 1000},
}
TOP = 20


def _measure(stack: Stack, url: str, body: dict[str, Any]) -> tuple[float, dict, dict]:
    """(wall seconds, the answer, tws-sim's request counts) for one POST."""
    stack.control("/control/reset-counters", {})
    start = time.perf_counter()
    answer = httpx.post(url, json=body, headers=HEADERS, timeout=900)
    wall = time.perf_counter() - start
    answer.raise_for_status()
    return wall, answer.json(), stack.control("/state/requests")


def _row(name: str, wall: float, cost: dict, note: str) -> list[dict]:
    req = cost["requests"]
    scanner = req.get("reqScannerSubscription", 0) + req.get("reqScannerParameters", 0)
    return [
        {"name": f"{name}: wall time", "value": wall, "unit": "s", "reference": note},
        {
            "name": f"{name}: IB requests",
            "value": cost["total"],
            "unit": "requests",
            "reference": f"{scanner} scanner, {cost['market_data']['snapshots']} snapshots, "
            f"{cost['market_data']['streams']} lines, "
            f"{req.get('reqContractDetails', 0)} contract details, "
            f"{cost['market_data'].get('generic_ticks', {}).get('258', 0)} with fundamentals (258)",
        },
    ]


def run() -> list[dict]:
    rows: list[dict] = []
    stack = Stack.start()
    try:
        curated = sorted(stack.control("/market")["symbols"])[:TOP]
        screen = f"{stack.screener_url}/v1/scans"
        scanner = f"{stack.bridge_url}/v1/scanner/run"
        wall, body, cost = _measure(stack, screen, {"symbols": curated})
        rows += _row(
            f"Watchlist scan, {TOP} symbols (reference)",
            wall,
            cost,
            f"{len(body.get('signals', []))} signals",
        )
        wall, body, cost = _measure(stack, scanner, {**IDEA, "rows": 50, "details": False})
        rows += _row(
            "Discovery: IB scanner alone, 50 rows",
            wall,
            cost,
            f"{len(body['rows'])} ranked (parameters fetched once a day, included)",
        )
        wall_d, body, cost_d = _measure(stack, scanner, {**IDEA, "rows": TOP, "details": True})
        top = [r["symbol"] for r in body["rows"]]
        rows += _row(
            f"Discovery with details, top {TOP}", wall_d, cost_d, "name, sector, price, cap"
        )
        wall_s, body, cost_s = _measure(stack, screen, {"symbols": top})
        rows += _row(
            f"Wheel screen on the discovery's top {TOP}",
            wall_s,
            cost_s,
            f"{len(body.get('signals', []))} signals (stock info warm from the details)",
        )
        total = {
            "total": cost_d["total"] + cost_s["total"],
            "requests": {
                k: cost_d["requests"].get(k, 0) + cost_s["requests"].get(k, 0)
                for k in set(cost_d["requests"]) | set(cost_s["requests"])
            },
            "market_data": {
                **{
                    k: cost_d["market_data"][k] + cost_s["market_data"][k]
                    for k in ("snapshots", "streams")
                },
                "generic_ticks": {
                    "258": cost_d["market_data"]["generic_ticks"].get("258", 0)
                    + cost_s["market_data"]["generic_ticks"].get("258", 0)
                },
            },
        }
        rows += _row(
            f"Discovery + wheel screen, top {TOP} (what the Discover page costs)",
            wall_d + wall_s,
            total,
            "beside the watchlist scan above",
        )
    finally:
        stack.stop()
    return rows
