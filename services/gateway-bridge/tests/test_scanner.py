"""IB's market scanners through the bridge: parameters, ranked runs, IB's limits and words.

A tws-sim of its own (seed 7, the harness's pinned start): the first scan lists the scanner's
synthetic names into its market, which the session's shared simulator must not see.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from bridge_helpers import api, ctl
from wheeldesk_testing.procs import Proc
from wheeldesk_testing.waits import wait_until


def ib_requests(sim: Proc, name: str) -> int:
    """How many `name` requests tws-sim received (its GET /state/requests counter)."""
    return ctl(sim, "/state/requests")["requests"].get(name, 0)


def test_parameters_are_ibs_lists_and_cached_for_the_day(bridge: Proc, sim: Proc) -> None:
    r = api(bridge, "GET", "/v1/scanner/parameters")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["instruments"] == ["STK"]
    assert "STK.US.MAJOR" in [loc["code"] for loc in body["locations"]]
    codes = {c["code"]: c["name"] for c in body["scan_codes"]}
    assert codes["HIGH_OPT_IMP_VOLAT_OVER_HIST"] == "Highest Opt Imp Vol Over Historical"
    assert {"OPT_VOLUME_MOST_ACTIVE", "TOP_OPT_IMP_VOL_GAIN", "MOST_ACTIVE"} <= set(codes)
    filters = {f["code"]: f for f in body["filters"]}
    assert filters["priceAbove"]["group"] == "PRICE"
    assert {"priceBelow", "marketCapAbove1e6", "avgOptVolumeAbove"} <= set(filters)
    assert body["trading_day"] == "2026-06-17"  # IB's day at the pinned start
    assert ib_requests(sim, "reqScannerParameters") == 1
    assert api(bridge, "GET", "/v1/scanner/parameters").json() == body
    assert ib_requests(sim, "reqScannerParameters") == 1  # the second ask cost IB nothing


def test_run_returns_ranked_rows_inside_the_filters(bridge: Proc) -> None:
    body = {
        "scan_code": "HIGH_OPT_IMP_VOLAT_OVER_HIST",
        "filters": {"priceAbove": 20, "priceBelow": 200, "marketCapAbove1e6": 10000},
        "rows": 12,
    }
    r = api(bridge, "POST", "/v1/scanner/run", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["scan_code"] == "HIGH_OPT_IMP_VOLAT_OVER_HIST" and out["simulated"] is True
    rows = out["rows"]
    assert [row["rank"] for row in rows] == list(range(12))
    for row in rows:
        assert row["conid"] > 0 and row["sec_type"] == "STK"
        assert row["name"] and row["sector"]
        assert 20 * 0.99 < row["price"] < 200 * 1.01, row
        assert row["market_cap"] > 10e9 * 0.99, row
        assert row["next_earnings"] is not None
        assert 0.05 < row["implied_volatility"] < 3, row
    # without details: IB's rows only, the same ranking
    lean = api(bridge, "POST", "/v1/scanner/run", json={**body, "details": False}).json()
    assert [x["symbol"] for x in lean["rows"]] == [x["symbol"] for x in rows]
    assert all(x["price"] is None and x["name"] is None for x in lean["rows"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scan_code": "NOPE"}, "scan_code"),
        ({"scan_code": "MOST_ACTIVE", "location": "STK.MARS"}, "location"),
        ({"scan_code": "MOST_ACTIVE", "filters": {"shoeSizeAbove": 3}}, "filters.shoeSizeAbove"),
        ({"scan_code": "MOST_ACTIVE", "rows": 51}, "rows"),
        ({"scan_code": "MOST_ACTIVE", "rows": 0}, "rows"),
        ({"scan_code": "MOST_ACTIVE", "filters": {"priceAbove": "cheap"}}, "filters.priceAbove"),
        ({"scan_code": "MOST_ACTIVE", "colour": "red"}, "colour"),
    ],
)
def test_bad_requests_name_the_field(bridge: Proc, body: dict, field: str) -> None:
    r = api(bridge, "POST", "/v1/scanner/run", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field, r.json()


def test_many_runs_at_once_stay_inside_ibs_ten_subscriptions(bridge: Proc, sim: Proc) -> None:
    body = {"scan_code": "MOST_ACTIVE", "rows": 5, "details": False}

    def run(_: int) -> int:
        return api(bridge, "POST", "/v1/scanner/run", json=body).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(run, range(24)))
    assert statuses == [200] * 24  # queued for a slot, never IB's error 322
    # every subscription was cancelled once answered (the cancel goes out as the answer does:
    # wait until tws-sim has read the last one)
    wait_until(
        lambda: (
            ib_requests(sim, "cancelScannerSubscription")
            == ib_requests(sim, "reqScannerSubscription")
        ),
        30,
        "every scanner subscription cancelled",
    )


def test_ibs_refusal_comes_back_in_ibs_words(bridge: Proc, sim: Proc) -> None:
    """Another client holding all 10 slots: the bridge answers 429 with IB's sentence."""
    import asyncio

    from ib_insync import IB, ScannerSubscription

    async def hog_and_run() -> tuple[int, dict]:
        ib = IB()
        await ib.connectAsync("127.0.0.1", sim.port, clientId=977, timeout=20)
        try:
            sub = ScannerSubscription(
                instrument="STK", locationCode="STK.US.MAJOR", scanCode="MOST_ACTIVE"
            )
            held = [ib.reqScannerSubscription(sub) for _ in range(10)]
            await asyncio.sleep(0.5)
            r = await asyncio.to_thread(
                api, bridge, "POST", "/v1/scanner/run", json={"scan_code": "MOST_ACTIVE"}
            )
            for d in held:
                ib.cancelScannerSubscription(d)
            return r.status_code, r.json()
        finally:
            ib.disconnect()

    status, body = asyncio.run(hog_and_run())
    assert status == 429
    assert body["code"] == "ib_scanner_limit"
    assert "Only 10 simultaneous API scanner subscriptions are allowed." in body["message"]
    # the slots are free again
    r = api(bridge, "POST", "/v1/scanner/run", json={"scan_code": "MOST_ACTIVE", "rows": 3})
    assert r.status_code == 200 and len(r.json()["rows"]) == 3
