"""Order preview server time (issue 19: "preview <= 1 s server time on the demo"), with tws-sim's
IB latency model on (`--latency realistic`, as `make run` starts the demo) and off.

Each row is a fresh stack at the harness's pinned moment (Wed 10:30 ET, market open). A
"preview" is what a user's click costs: the web's POST of the draft (create it, ask the bridge
for IB's what-if and the account, positions, working orders and events, run the checks, store)
up to its redirect, then the same order's "Preview again" POST (a fresh quote and what-if).
The bridge's own `POST /v1/orders/preview` and the roll's combo preview are timed as well, so
a slow figure says which hop it is. Times are wall clock on localhost (the server time plus a
loopback round trip); runs are 1.2 s apart, so none reuses the previous run's cached quote.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx
from wheeldesk_testing.e2e import listed_put, login
from wheeldesk_testing.procs import TEST_TOKEN
from wheeldesk_testing.stack import Stack

RUNS = 12
SYMBOL = "AAPL"
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}"}


# Between two runs: past the bridge's 1 s quote cache (QUOTE_CACHE_SECONDS), so every run pays
# for the quote now as a user's click does, not the one the previous run left behind.
PAUSE = 1.2


def _timed(call: Callable[[], httpx.Response], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        time.sleep(PAUSE)
        start = time.perf_counter()
        r = call()
        out.append(time.perf_counter() - start)
        assert r.status_code < 400, r.text[:300]
    return out


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


def _measure(latency: str) -> dict[str, list[float]]:
    stack = Stack.start(tws_args=["--latency", latency])
    try:
        web = login(stack)
        expiry, strike, bid = listed_put(stack, SYMBOL)
        token = web.cookies["csrftoken"]
        draft = {
            "csrfmiddlewaretoken": token,
            "symbol": SYMBOL,
            "expiry": expiry,
            "strike": strike,
            "right": "P",
            "action": "SELL",
            "quantity": 1,
            "limit_price": f"{bid:.2f}",
        }
        web.post("/orders/new/", data=draft)  # warm-up: first contract details, market rule
        coids: list[str] = []

        def new_draft() -> httpx.Response:
            r = web.post("/orders/new/", data=draft, timeout=60)
            coids.append(r.headers.get("location", "").rstrip("/").split("/")[-1])
            return r

        web_new = _timed(new_draft, RUNS)
        again = _timed(
            lambda: web.post(f"/orders/{coids[0]}/preview/", data={"csrfmiddlewaretoken": token}),
            RUNS,
        )
        body = {
            "client_order_id": "wd-bench-preview-1",
            "symbol": SYMBOL,
            "expiry": expiry,
            "strike": strike,
            "right": "P",
            "action": "SELL",
            "quantity": 1,
        }
        bridge = _timed(
            lambda: httpx.post(
                f"{stack.bridge_url}/v1/orders/preview", json=body, headers=HEADERS, timeout=60
            ),
            RUNS,
        )
        held = next(
            p
            for p in stack.bridge_get("/v1/positions")
            if p["symbol"] == "AAPL" and p["sec_type"] == "OPT" and p["quantity"] < 0
        )
        combo = {
            "client_order_id": "wd-bench-combo-1",
            "symbol": "AAPL",
            "legs": [
                {"expiry": held["expiry"], "strike": held["strike"], "right": "P", "action": "BUY"},
                {"expiry": expiry, "strike": strike, "right": "P", "action": "SELL"},
            ],
            "quantity": 1,
        }
        combos = _timed(
            lambda: httpx.post(
                f"{stack.bridge_url}/v1/orders/combo/preview",
                json=combo,
                headers=HEADERS,
                timeout=60,
            ),
            RUNS,
        )
        web.close()
    finally:
        stack.stop()
    return {
        "web: new order (draft + preview)": web_new,
        "web: preview again": again,
        "bridge: POST /v1/orders/preview": bridge,
        "bridge: POST /v1/orders/combo/preview (roll)": combos,
    }


def run() -> list[dict]:
    rows: list[dict] = []
    for latency in ("off", "realistic"):
        for name, xs in _measure(latency).items():
            for stat, value in (("median", statistics.median(xs)), ("p95", _p95(xs))):
                rows.append(
                    {
                        "name": f"{name}, latency {latency}: {stat}",
                        "value": value * 1000,
                        "unit": "ms",
                        "target": "<= 1000 ms" if name.startswith("web") else None,
                        "reference": f"{len(xs)} runs",
                    }
                )
    return rows
