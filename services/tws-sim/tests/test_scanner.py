"""IB market scanners through the real ib_insync client: parameters, ranked filtered rows, limits.

One simulator of its own for the module (seed 7, the harness's pinned start): the first scan
lists the synthetic scanner names into its market, which the shared simulator must not see.
"""

from __future__ import annotations

import asyncio
import itertools
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from ib_insync import IB, ScannerSubscription, Stock, TagValue
from twssim_helpers import connect, ctl, wait_for
from wheeldesk_testing.procs import Proc, tws_sim_proc

WHEEL_SCANS = [
    "HIGH_OPT_IMP_VOLAT",
    "HIGH_OPT_IMP_VOLAT_OVER_HIST",
    "OPT_VOLUME_MOST_ACTIVE",
    "TOP_OPT_IMP_VOL_GAIN",
    "MOST_ACTIVE",
]


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    proc = tws_sim_proc(seed=7).start()
    yield proc
    proc.stop()


def request_errors(errors) -> list[tuple[int, int, str]]:  # type: ignore[no-untyped-def]
    """The errors about a request (the farm notices at connect carry reqId -1)."""
    return [e for e in errors.items if e[0] != -1]


def sub(code: str, rows: int = 10, **kw: float) -> ScannerSubscription:
    return ScannerSubscription(
        instrument="STK", locationCode="STK.US.MAJOR", scanCode=code, numberOfRows=rows, **kw
    )


async def ratios(ib: IB, symbols: list[str]) -> dict[str, dict[str, float]]:
    """IB's fundamental ratios (tick 258: NPRICE, MKTCAP in $M) and IV (tick 106) per symbol."""
    contracts = await ib.qualifyContractsAsync(*[Stock(s, "SMART", "USD") for s in symbols])
    tickers = [ib.reqMktData(c, "106,258", False, False) for c in contracts]
    await wait_for(
        lambda: all(
            t.fundamentalRatios and t.impliedVolatility == t.impliedVolatility for t in tickers
        ),
        what="ratios and IV of every symbol",
    )
    out = {}
    for c, t in zip(contracts, tickers, strict=True):
        ib.cancelMktData(c)
        r = t.fundamentalRatios
        out[c.symbol] = {"price": r.NPRICE, "cap_m": r.MKTCAP, "iv": t.impliedVolatility}
    return out


async def test_parameters_parse_in_ibs_xml_shape(sim: Proc) -> None:
    ib, _ = await connect(sim)
    try:
        xml = await asyncio.wait_for(ib.reqScannerParametersAsync(), 10)
    finally:
        ib.disconnect()
    root = ET.fromstring(xml)
    assert root.tag == "ScanParameterResponse"
    assert [i.findtext("type") for i in root.iter("Instrument")] == ["STK"]
    locations = [loc.findtext("locationCode") for loc in root.iter("Location")]
    assert {"STK.US", "STK.US.MAJOR", "STK.NASDAQ", "STK.NYSE"} <= set(locations)
    codes = [t.findtext("scanCode") for t in root.iter("ScanType")]
    assert set(WHEEL_SCANS) <= set(codes)
    for t in root.iter("ScanType"):
        assert t.findtext("displayName")
        assert t.findtext("snapshotSizeLimit") == "50"
    filters = {f.findtext("code") for f in root.iter("AbstractField")}
    assert {
        "priceAbove",
        "priceBelow",
        "marketCapAbove1e6",
        "marketCapBelow1e6",
        "volumeAbove",
        "avgOptVolumeAbove",
    } <= filters


@pytest.mark.parametrize(
    "code", ["HIGH_OPT_IMP_VOLAT", "HIGH_OPT_IMP_VOLAT_OVER_HIST", "OPT_VOLUME_MOST_ACTIVE"]
)
async def test_scan_ranks_rows_inside_price_and_market_cap(sim: Proc, code: str) -> None:
    ib, errors = await connect(sim)
    try:
        # $20–$200 as filter TagValues, market cap above $10B in the subscription's own field
        prices = [TagValue("priceAbove", "20"), TagValue("priceBelow", "200")]
        rows = await ib.reqScannerDataAsync(sub(code, marketCapAbove=10_000), [], prices)
        unfiltered = await ib.reqScannerDataAsync(sub(code, rows=50))
        assert request_errors(errors) == []
        assert [r.rank for r in rows] == list(range(10))
        symbols = [r.contractDetails.contract.symbol for r in rows]
        assert len(set(symbols)) == 10
        for r in rows:
            c = r.contractDetails.contract
            assert c.secType == "STK" and c.conId > 0 and c.currency == "USD"
        seen = await ratios(ib, symbols)
        for s in symbols:  # prices walk while the test runs: 1% slack at the edges
            assert 20 * 0.99 < seen[s]["price"] < 200 * 1.01, (s, seen[s])
            assert seen[s]["cap_m"] > 10_000 * 0.99, (s, seen[s])
        # the filters matter: the top 50 of the whole universe holds names outside them
        everything = await ratios(ib, [r.contractDetails.contract.symbol for r in unfiltered])
        assert any(not (20 < v["price"] < 200 and v["cap_m"] > 10_000) for v in everything.values())
        if code == "HIGH_OPT_IMP_VOLAT":  # ranked by the IV IB quotes for the stock
            ivs = [seen[s]["iv"] for s in symbols]
            assert all(a >= b - 1e-3 for a, b in itertools.pairwise(ivs)), ivs
            top = everything[unfiltered[0].contractDetails.contract.symbol]["iv"]
            assert top > ivs[0]  # the filters kept the highest-IV small names out
    finally:
        ib.disconnect()


async def test_scans_differ_and_synthetic_names_trade(sim: Proc) -> None:
    ib, _ = await connect(sim)
    try:
        tops = {}
        for code in WHEEL_SCANS:
            rows = await ib.reqScannerDataAsync(sub(code, rows=100))
            assert len(rows) == 50  # IB's cap on rows per scan
            tops[code] = [r.contractDetails.contract.symbol for r in rows]
        assert len({tuple(v) for v in tops.values()}) == len(WHEEL_SCANS)
        universe = ctl(sim, "/market")["symbols"]
        assert len(universe) >= 300  # the curated names plus the scanner's synthetic ones
        synthetic = next(s for v in tops.values() for s in v if s.startswith("Z"))
        [c] = await ib.qualifyContractsAsync(Stock(synthetic, "SMART", "USD"))
        chain = await ib.reqSecDefOptParamsAsync(c.symbol, "", "STK", c.conId)
        assert chain and chain[0].expirations
        # the same seed ranks the same names again
        again = await ib.reqScannerDataAsync(sub("HIGH_OPT_IMP_VOLAT", rows=100))
        assert [r.contractDetails.contract.symbol for r in again] == tops["HIGH_OPT_IMP_VOLAT"]
    finally:
        ib.disconnect()


async def test_eleventh_subscription_gets_ibs_error(sim: Proc) -> None:
    ib, errors = await connect(sim)
    try:
        held = [ib.reqScannerSubscription(sub("MOST_ACTIVE", rows=5)) for _ in range(10)]
        await wait_for(lambda: all(len(d) == 5 for d in held), what="ten scans' rows")
        eleventh = ib.reqScannerSubscription(sub("MOST_ACTIVE", rows=5))
        await wait_for(lambda: bool(request_errors(errors)), what="the eleventh scan's error")
        assert request_errors(errors) == [
            (
                eleventh.reqId,
                322,
                "Error processing request.-'bd' : cause - "
                "Only 10 simultaneous API scanner subscriptions are allowed.",
            )
        ]
        assert len(eleventh) == 0
        # a cancelled subscription frees its slot
        ib.cancelScannerSubscription(held[0])
        rows = await ib.reqScannerDataAsync(sub("MOST_ACTIVE", rows=5))
        assert len(rows) == 5
        assert len(request_errors(errors)) == 1
    finally:
        ib.disconnect()
    # a disconnected client's subscriptions are gone too
    ib2, errors2 = await connect(sim)
    try:
        rows = await ib2.reqScannerDataAsync(sub("MOST_ACTIVE", rows=5))
        assert len(rows) == 5 and request_errors(errors2) == []
    finally:
        ib2.disconnect()


async def test_unknown_scan_code_and_filter_are_refused(sim: Proc) -> None:
    ib, errors = await connect(sim)
    try:
        rows = await ib.reqScannerDataAsync(sub("NO_SUCH_SCAN"))
        assert len(rows) == 0
        rows = await ib.reqScannerDataAsync(
            sub("MOST_ACTIVE"), [], [TagValue("shoeSizeAbove", "3")]
        )
        assert len(rows) == 0
        assert [(c, m) for _, c, m in request_errors(errors)] == [
            (162, "Historical Market Data Service error message:Invalid scan code: 'NO_SUCH_SCAN'"),
            (162, "Historical Market Data Service error message:Invalid filter: shoeSizeAbove"),
        ]
    finally:
        ib.disconnect()
