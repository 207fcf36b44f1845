"""Option bid/ask widths: a share of the premium by liquidity class, on US option ticks.

The model's numbers are checked directly (`tws_sim.spreads`), then what a client sees over
the TWS API for a liquid large cap (KO, AAPL), the index fund (SPY) and a thin name (DAL)
inside the default wheel window (7–45 DTE, |delta| 0.15–0.30).
"""

from __future__ import annotations

import statistics
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from ib_insync import IB, Option, Stock, Ticker
from tws_sim import spreads
from tws_sim.contracts import load_universe
from twssim_helpers import connect, ctl

ET = ZoneInfo("America/New_York")
CENT = 0.01


def on_tick(price: float, tick: float) -> bool:
    return abs(price / tick - round(price / tick)) < 1e-6


# --- the model --------------------------------------------------------------------------------


def test_width_pct_grows_out_of_the_money_for_weeklies_and_long_dated() -> None:
    month = 30 / 365
    # an at-the-money monthly with the middle jitter draw is the class's base width
    assert spreads.width_pct("liquid", 0.0, month, monthly=True, jitter_u=0.5) == 2.0
    assert spreads.width_pct("index", 0.0, month, monthly=True, jitter_u=0.5) == 0.5
    assert spreads.width_pct("standard", 0.0, month, monthly=True, jitter_u=0.5) == 5.0
    assert spreads.width_pct("thin", 0.0, month, monthly=True, jitter_u=0.5) == 10.0
    # 2 standard deviations out of the money: x (1 + 0.3 x 2); capped at 4
    assert spreads.width_pct("liquid", 2.0, month, monthly=True, jitter_u=0.5) == pytest.approx(3.2)
    assert spreads.width_pct("liquid", 9.0, month, monthly=True, jitter_u=0.5) == pytest.approx(4.4)
    # a weekly: x 1.25; a year beyond 45 days: x 1.75 (and no more after that)
    assert spreads.width_pct("liquid", 0.0, month, monthly=False, jitter_u=0.5) == 2.5
    year_on = 45 / 365 + 1.0
    assert spreads.width_pct("liquid", 0.0, year_on, monthly=True, jitter_u=0.5) == 3.5
    assert spreads.width_pct("liquid", 0.0, 2.0, monthly=True, jitter_u=0.5) == 3.5
    # the per-contract draw moves the width by at most ±15 %
    assert spreads.width_pct("liquid", 0.0, month, monthly=True, jitter_u=0.0) == 1.7
    assert spreads.width_pct("liquid", 0.0, month, monthly=True, jitter_u=1.0) == 2.3


def test_bid_ask_is_whole_ticks_around_the_model_mid() -> None:
    # KO-like 64C: mid 0.202 at 4 %: 0.008 wide → one cent, not rounded outward to 0.18/0.22
    assert spreads.bid_ask(0.202, 4.0, "liquid") == (0.20, 0.21, 0.01)
    # 0.444 at 3.5 %: 0.0155 → two cents
    assert spreads.bid_ask(0.444, 3.5, "liquid") == (0.43, 0.45, 0.01)
    # a quote reaching $3 is in nickels on both sides: 3.266 at 3 % = 0.098 → 2 nickels
    assert spreads.bid_ask(3.266, 3.0, "liquid") == (3.20, 3.30, 0.05)
    # SPY is in pennies at any price: 4.032 at 1 % = 0.040 → 4 cents
    assert spreads.bid_ask(4.032, 1.0, "index") == (4.01, 4.05, 0.01)
    # a thin name is outside the penny program: nickels under $3 (0.30 at 10 % → one nickel)
    assert spreads.bid_ask(0.30, 10.0, "thin") == (0.25, 0.30, 0.05)
    # ... and dimes from $3: 5.02 at 12 % = 0.60 → 6 dimes
    assert spreads.bid_ask(5.02, 12.0, "thin") == (4.70, 5.30, 0.10)
    # a worthless strike is ask-only, one tick
    assert spreads.bid_ask(0.003, 2.0, "liquid") == (0.0, 0.01, 0.01)
    assert spreads.bid_ask(0.01, 10.0, "thin") == (0.0, 0.05, 0.05)


def test_otm_distance_counts_only_out_of_the_money() -> None:
    # a 110 call on 100 with 20 % vol, 0.25 y: ln(1.1) / (0.2 x 0.5) = 0.953 sd
    assert spreads.otm_sd("C", 110, 100, 0.2, 0.25) == pytest.approx(0.9531, abs=1e-4)
    assert spreads.otm_sd("P", 110, 100, 0.2, 0.25) == 0.0  # in the money
    assert spreads.otm_sd("P", 90, 100, 0.2, 0.25) == pytest.approx(1.0536, abs=1e-4)


def test_universe_liquidity_classes() -> None:
    classes = {s.symbol: s.liquidity for s in load_universe(extra=3)}
    assert classes["SPY"] == "index"
    assert {classes[s] for s in ("KO", "AAPL", "MSFT", "CSCO")} == {"liquid"}
    assert {classes[s] for s in ("NKE", "INTC", "F")} == {"standard"}
    assert {classes[s] for s in ("DAL", "SOFI", "RIVN", "AAL", "MARA")} == {"thin"}
    # synthetic stocks are classed by market cap, as the file is
    for s in load_universe(extra=3)[-3:]:
        assert s.liquidity == spreads.liquidity_for_cap(s.market_cap_m)
    assert spreads.liquidity_for_cap(150_000) == "liquid"
    assert spreads.liquidity_for_cap(149_999) == "standard"
    assert spreads.liquidity_for_cap(39_999) == "thin"


# --- through the TWS API ----------------------------------------------------------------------


async def _tickers(
    ib: IB, symbol: str, spot: float, expiries: list[str], band: float
) -> list[Ticker]:
    """Snapshots of every listed put in [spot x (1 - band), spot] and call in [spot,
    spot x (1 + band)] for the expiries, at most 90 at a time (the sim allows 100 lines)."""
    wanted: list[Option] = []
    for exp in expiries:
        for right in ("P", "C"):
            details = await ib.reqContractDetailsAsync(Option(symbol, exp, 0.0, right, "SMART"))
            for d in details:
                k = d.contract.strike
                if (right == "P" and spot * (1 - band) <= k <= spot) or (
                    right == "C" and spot <= k <= spot * (1 + band)
                ):
                    wanted.append(d.contract)
    out: list[Ticker] = []
    for i in range(0, len(wanted), 90):
        out += await ib.reqTickersAsync(*wanted[i : i + 90])
    return out


def _dte(expiry: str, today: date) -> int:
    return (datetime.strptime(expiry, "%Y%m%d").date() - today).days


def _weekday(expiry: str) -> int:
    return datetime.strptime(expiry, "%Y%m%d").weekday()


def _in_band(tickers: list[Ticker]) -> list[Ticker]:
    return [
        t for t in tickers if t.modelGreeks is not None and 0.15 <= abs(t.modelGreeks.delta) <= 0.30
    ]


def _spread_pct(t: Ticker) -> float:
    return (t.ask - t.bid) / ((t.ask + t.bid) / 2) * 100


async def test_wheel_window_spreads_by_liquidity_and_tick_rules(tws_sim_factory) -> None:
    # A still market: the underlying does not move between snapshots.
    sim = tws_sim_factory(extra=["--tick-ms", "600000"])
    ib, errors = await connect(sim)
    try:
        spots = {s: v["price"] for s, v in ctl(sim, "/market")["symbols"].items()}
        today = datetime.fromisoformat(ctl(sim, "/state")["sim_time"]).astimezone(ET).date()

        async def window(symbol: str) -> list[str]:
            [stock] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
            [params] = [
                p
                for p in await ib.reqSecDefOptParamsAsync(symbol, "", "STK", stock.conId)
                if p.exchange == "SMART"
            ]
            return sorted(e for e in params.expirations if 7 <= _dte(e, today) <= 45)

        # KO (liquid, $62): every wheel-window contract is one or two cents wide, in pennies,
        # with the model price inside; the screener's default 10 % admits all of them worth
        # a dime or more, and the typical one is 2–5 % of its premium.
        ko = _in_band(await _tickers(ib, "KO", spots["KO"], await window("KO"), 0.08))
        assert len(ko) >= 8, len(ko)
        for t in ko:
            assert round(t.ask - t.bid, 2) in (0.01, 0.02), (t.contract.localSymbol, t.bid, t.ask)
            assert on_tick(t.bid, CENT) and on_tick(t.ask, CENT)
            assert t.bid <= t.modelGreeks.optPrice <= t.ask
            if t.bid >= 0.10:
                assert _spread_pct(t) <= 10.0, (t.contract.localSymbol, t.bid, t.ask)
        assert 2.0 <= statistics.median(_spread_pct(t) for t in ko) <= 5.0
        assert any(t.contract.right == "C" for t in ko)

        # AAPL (liquid, $228): pennies under $3, nickels from $3; 1–5 % of the premium
        aapl = _in_band(await _tickers(ib, "AAPL", spots["AAPL"], await window("AAPL"), 0.10))
        assert len(aapl) >= 20, len(aapl)
        for t in aapl:
            assert 1.0 <= _spread_pct(t) <= 5.0, (t.contract.localSymbol, t.bid, t.ask)
            assert on_tick(t.bid, 0.05 if t.bid >= 3 else CENT)
            assert on_tick(t.ask, 0.05 if t.ask >= 3 else CENT)
        assert any(not on_tick(t.ask, 0.05) for t in aapl)  # the penny side is used

        # SPY (index): pennies at any price, about 1 % or less
        spy = _in_band(await _tickers(ib, "SPY", spots["SPY"], (await window("SPY"))[:3], 0.05))
        assert len(spy) >= 5, len(spy)
        for t in spy:
            assert on_tick(t.bid, CENT) and on_tick(t.ask, CENT)
            assert _spread_pct(t) <= 1.5, (t.contract.localSymbol, t.bid, t.ask)
        # from $3 a nickel tick would make every quote at least 0.05 wide
        assert any(t.bid >= 3 and t.ask - t.bid < 0.05 for t in spy), [(t.bid, t.ask) for t in spy]

        # DAL (thin, $48): nickels under $3, dimes from $3; the default 10 % rejects most of it
        dal = _in_band(await _tickers(ib, "DAL", spots["DAL"], (await window("DAL"))[:3], 0.15))
        assert len(dal) >= 5, len(dal)
        for t in dal:
            tick = 0.05 if t.ask < 3 else 0.10
            assert on_tick(t.bid, tick) and on_tick(t.ask, tick), (t.bid, t.ask)
        wide = [t for t in dal if _spread_pct(t) > 10.0]
        assert len(wide) > len(dal) / 2, [(t.bid, t.ask) for t in dal]
        assert 101 not in errors.codes()
    finally:
        ib.disconnect()


async def test_far_out_of_the_money_and_long_dated_quote_wider(tws_sim_factory) -> None:
    sim = tws_sim_factory(extra=["--tick-ms", "600000"])
    ib, _ = await connect(sim)
    try:
        spot = ctl(sim, "/market")["symbols"]["AAPL"]["price"]
        today = datetime.fromisoformat(ctl(sim, "/state")["sim_time"]).astimezone(ET).date()
        [stock] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        [params] = [
            p
            for p in await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId)
            if p.exchange == "SMART"
        ]
        exps = sorted(params.expirations)

        # the monthly (third Friday) nearest 30 days out, and the last listed expiry
        monthlies = [e for e in exps if 15 <= int(e[6:]) <= 21 and _weekday(e) == 4]
        month = min(monthlies, key=lambda e: abs(_dte(e, today) - 30))
        year = exps[-1]
        assert _dte(year, today) > 300

        async def mean_spread_pct(exp: str, target: float, rights: str) -> float:
            """Mean spread % of the three strikes nearest `target` (evens out the per-contract
            draw), calls and/or puts."""
            found = []
            for right in rights:
                details = await ib.reqContractDetailsAsync(Option("AAPL", exp, 0.0, right, "SMART"))
                found += sorted(
                    (d.contract for d in details), key=lambda c: abs(c.strike - target)
                )[:3]
            tickers = await ib.reqTickersAsync(*found)
            return statistics.mean(_spread_pct(t) for t in tickers)

        atm_month = await mean_spread_pct(month, spot, "CP")
        far_otm = await mean_spread_pct(month, spot * 1.15, "C")  # ~2 standard deviations out
        atm_year = await mean_spread_pct(year, spot, "CP")
        assert 1.5 <= atm_month <= 3.0, atm_month
        assert far_otm > atm_month + 1.0, (far_otm, atm_month)
        assert atm_year > atm_month + 0.5, (atm_year, atm_month)
    finally:
        ib.disconnect()


def test_off_tick_neighbours_follow_the_class_tick_rules() -> None:
    from tws_sim import spreads

    assert spreads.off_tick_neighbours("liquid", 3.27) == (3.25, 3.30)
    assert spreads.off_tick_neighbours("liquid", 3.25) is None
    assert spreads.off_tick_neighbours("liquid", 2.97) is None
    assert spreads.off_tick_neighbours("index", 7.31) is None
    assert spreads.off_tick_neighbours("thin", 2.97) == (2.95, 3.0)
    assert spreads.off_tick_neighbours("thin", 3.15) == (3.1, 3.2)
    assert spreads.market_rule_increments(32) == [(0.0, 0.01), (3.0, 0.05)]
