"""Fundamentals (ticks 258/456) are read once per IB trading day: a stock asked again that day
streams tick 106 and the price only, the figures it shows stay the same; IB's next day reads
them again. A tws-sim of its own (seed 7, the pinned start): the test moves its clock."""

from __future__ import annotations

import time

from bridge_helpers import api, ctl
from wheeldesk_testing.procs import Proc

STOCK_CACHE_SECONDS = 5.0  # the bridge keeps a whole stock answer this long (marketdata.py)


def ticks(sim: Proc) -> dict[str, int]:
    return ctl(sim, "/state/requests")["market_data"]["generic_ticks"]


def stock(bridge: Proc) -> dict:
    r = api(bridge, "GET", "/v1/stocks/KO")
    assert r.status_code == 200, r.text
    return r.json()


def test_fundamentals_once_per_ib_trading_day(bridge: Proc, sim: Proc) -> None:
    first = stock(bridge)
    assert ticks(sim).get("258") == 1 and ticks(sim).get("106") == 1
    assert first["fundamentals"]["market_cap"] > 1e11 and first["implied_volatility"] > 0
    time.sleep(STOCK_CACHE_SECONDS + 0.5)  # past the whole-answer cache: IB is asked again
    second = stock(bridge)
    assert ticks(sim).get("258") == 1  # the day's fundamentals were kept
    assert ticks(sim).get("106") == 2  # the IV and price are fresh
    assert second["fundamentals"] == first["fundamentals"]
    assert second["implied_volatility"] > 0 and second["quote"]["price"] > 0
    # IB's next trading day (Thu 2026-06-18): the figures are read again
    ctl(sim, "/control/advance", {"days": 1})
    time.sleep(STOCK_CACHE_SECONDS + 0.5)
    status = api(bridge, "GET", "/v1/status").json()  # the bridge re-reads IB's clock
    assert status["server_time"].startswith("2026-06-18")
    stock(bridge)
    assert ticks(sim).get("258") == 2
