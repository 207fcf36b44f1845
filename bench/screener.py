"""screener: one million option contracts through the whole pipeline, and QuantLib's IV loop.

The workload: 1,000,000 contracts drawn like the QuantLib correctness test (moneyness K/S
0.5–1.5, DTE 1–730, volatility 5–300 %, rates 0–8 %, dividend yield 0–5 %, puts and calls),
each quoted with a bid/ask around its model price. Timed, in one process: IV solved from the
mid, every greek, POP, premium / yield / APY, spread, expected move, the option rules
(`filters.first_failures`), the score, and the ranking of the contracts that pass (full sort).
Peak memory is measured with tracemalloc on a second, untimed run (numpy reports its buffers
to tracemalloc). The reference is QuantLib's scalar `impliedVolatility` (Brent) on a
2,000-contract subsample, extrapolated to one million: ratio = QuantLib time / ours.

American exercise: as in a scan, the contracts about to be returned as signals (the best
3 of each chain; the million is read as 1,000 chains of 1,000 contracts) get the American
model (Bjerksund–Stensland 2002) where they need it: early exercise can pay (a put with
r > 0, a call with a dividend yield) and the IV was solved from the price (every IV here)
or the contract is in the money. That is inside the timed pipeline; the row reports how
many. Its accuracy is checked against QuantLib's binomial engine (`screener.qlref`, the
helper the tests use) on a sample.
"""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from typing import Any

import numpy as np

N = 1_000_000
QL_SAMPLE = 2_000
CHAIN = 1_000  # contracts per chain (one symbol's puts and calls)
TOP = 3  # signals kept per chain (Criteria.max_signals_per_symbol's default)
AM_SAMPLE = 200  # contracts priced by QuantLib's binomial tree to check the American model


def _workload(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    from screener import pricing

    rng = np.random.default_rng(seed)
    spot = np.full(n, 100.0)
    strike = spot * rng.uniform(0.5, 1.5, n)
    dte = rng.integers(1, 731, n).astype(float)
    sigma = rng.uniform(0.05, 3.0, n)
    r = rng.uniform(0.0, 0.08, n)
    q = rng.uniform(0.0, 0.05, n)
    call = rng.random(n) < 0.5
    fair = pricing.price(call, spot, strike, dte / 365.0, r, q, sigma)
    half = np.maximum(0.005, fair * rng.uniform(0.005, 0.05, n))
    return {
        "spot": spot,
        "strike": strike,
        "dte": dte,
        "sigma": sigma,
        "r": r,
        "q": q,
        "call": call,
        "bid": np.maximum(fair - half, 0.0),
        "ask": fair + half,
        "mid": fair,
        "oi": rng.integers(0, 20_000, n).astype(float),
    }


def pipeline(w: dict[str, np.ndarray]) -> dict[str, Any]:
    """The scan's array work on every contract (the same functions the service uses)."""
    from screener import american, filters, pricing, wheel
    from wheeldesk.schemas.screener import Criteria

    c = Criteria(dte_min=1, dte_max=730, delta_min=0.10, delta_max=0.40, min_apy=5.0)
    t = w["dte"] / 365.0
    iv, flag = pricing.implied_vol(w["mid"], w["call"], w["spot"], w["strike"], t, w["r"], w["q"])
    g = pricing.greeks(w["call"], w["spot"], w["strike"], t, w["r"], w["q"], iv)
    pop = pricing.prob_otm_from_d2(w["call"], g.d2) * 100.0
    prem = wheel.premium(w["bid"], w["ask"], "bid")
    basis = np.where(w["call"], w["spot"], w["strike"])
    yld = prem / basis
    apy = wheel.annualise(yld, w["dte"])
    spread = wheel.spread_pct(w["bid"], w["ask"])
    move = wheel.expected_move(w["spot"], iv, w["dte"])
    n = iv.shape[0]
    cols = filters.OptionColumns(
        dte=w["dte"],
        abs_delta=np.abs(g.delta),
        iv=iv,
        iv_rank=np.full(n, np.nan),
        open_interest=w["oi"],
        spread_pct=spread,
        premium=prem,
        apy=apy,
        collateral=basis * 100.0,
        needs_cash=~w["call"],
        below_basis=np.zeros(n, dtype=bool),
        spans_earnings=np.zeros(n, dtype=bool),
    )
    first = filters.first_failures(cols, c, buying_power=None)
    points = wheel.score(apy, pop, spread, w["oi"], 7.5)
    passing = np.flatnonzero(first < 0)
    # the signals: the best TOP of each chain; American numbers where they are needed
    top = _top_per_chain(passing, points)
    need = american.needs_american(
        w["call"][top], w["spot"][top], w["strike"][top], w["r"][top], w["q"][top], True
    )
    chosen = np.zeros(n, dtype=bool)
    chosen[top[need]] = True
    iv, delta = american.refine(
        chosen, w["mid"], w["call"], w["spot"], w["strike"], t, w["r"], w["q"], iv,
        np.ones(n, dtype=bool), g.delta,
    )  # fmt: skip
    idx = np.flatnonzero(chosen)
    pop[idx] = pricing.prob_otm(w["call"][idx], w["spot"][idx], w["strike"][idx], t[idx],
                                w["r"][idx], w["q"][idx], iv[idx]) * 100.0  # fmt: skip
    points[idx] = wheel.score(apy[idx], pop[idx], spread[idx], w["oi"][idx], 7.5)
    ranked = passing[np.argsort(-points[passing], kind="stable")]
    return {
        "iv": iv,
        "flag": flag,
        "ranked": ranked,
        "move": move,
        "theta": g.theta,
        "delta": delta,
        "american": int(chosen.sum()),
        "signals": int(top.size),
    }


def _top_per_chain(passing: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The TOP best-scoring passing contracts of each CHAIN-contract chain (the chains are
    consecutive blocks): a partial selection per row, O(n), no sort."""
    n = points.size
    masked = np.full(n, -np.inf)
    masked[passing] = points[passing]
    rows = masked.reshape(-1, CHAIN)  # N is a multiple of CHAIN
    pick = np.argpartition(-rows, TOP - 1, axis=1)[:, :TOP]
    flat = (pick + np.arange(rows.shape[0])[:, None] * CHAIN).ravel()
    return flat[np.isfinite(masked[flat])]


def _american_vs_quantlib(w: dict[str, np.ndarray]) -> tuple[float, float, int]:
    """Our American prices against QuantLib's 1,000-step binomial tree on the first
    AM_SAMPLE contracts with up to 1 year to run: (max error % of price, mean abs error,
    how many in the money)."""
    from screener import american, qlref

    keep = np.flatnonzero((w["dte"] <= 365) & (w["sigma"] <= 1.0))[:AM_SAMPLE]
    args = [w[k][keep] for k in ("call", "spot", "strike", "dte", "r", "q", "sigma")]
    truth = qlref.american_price(*args, steps=1000)
    args[3] = args[3] / 365.0
    ours = american.price(*args)
    itm = np.where(args[0], args[1] > args[2], args[1] < args[2])
    rel = np.abs(ours - truth) / np.maximum(truth, 0.01)
    return float(rel.max() * 100.0), float(np.abs(ours - truth).mean()), int(itm.sum())


def pricing_workers() -> int:
    from screener import pricing

    return pricing._WORKERS


def _ours_iv_only(w: dict[str, np.ndarray]) -> float:
    from screener import pricing

    t0 = time.perf_counter()
    pricing.implied_vol(w["mid"], w["call"], w["spot"], w["strike"], w["dte"] / 365, w["r"], w["q"])
    return time.perf_counter() - t0


def _quantlib_iv_seconds(w: dict[str, np.ndarray], m: int) -> float:
    import QuantLib as ql

    today = ql.Date(26, 11, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    spot, rate, div, vol = (ql.SimpleQuote(v) for v in (100.0, 0.0, 0.0, 0.2))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(div), dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(rate), dc)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vol), dc)
        ),
    )
    options = []
    for i in range(m):
        kind = ql.Option.Call if w["call"][i] else ql.Option.Put
        options.append(
            ql.VanillaOption(
                ql.PlainVanillaPayoff(kind, float(w["strike"][i])),
                ql.EuropeanExercise(today + int(w["dte"][i])),
            )
        )
    t0 = time.perf_counter()
    for i, option in enumerate(options):
        rate.setValue(float(w["r"][i]))
        div.setValue(float(w["q"][i]))
        with contextlib.suppress(RuntimeError):
            option.impliedVolatility(float(w["mid"][i]), process, 1e-10, 1000, 1e-7, 10.0)
    return time.perf_counter() - t0


def run() -> list[dict[str, Any]]:
    w = _workload(N)
    pipeline(_workload(10_000, seed=1))  # warm caches and imports
    times = []
    for _ in range(5):  # best of five: the machine is shared, the minimum is the signal
        t0 = time.perf_counter()
        c0 = time.process_time()
        out = pipeline(w)
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    best, cpu = min(times)
    converged = float(np.mean(out["flag"] == 0))
    tracemalloc.start()
    pipeline(w)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ours_iv = min(_ours_iv_only(w) for _ in range(2))
    sample = {k: v[:QL_SAMPLE] for k, v in w.items()}
    ql_seconds = _quantlib_iv_seconds(sample, QL_SAMPLE) * (N / QL_SAMPLE)
    am_rel, am_abs, am_itm = _american_vs_quantlib(w)
    return [
        {
            "name": "1M contracts: IV + greeks + P(OTM) + filters + APY + score + ranking "
            "+ American model for the signals that need it",
            "value": best * 1000.0,
            "unit": "ms",
            "target": "<= 500 ms",
            "reference": f"CPU {cpu * 1000:.0f} ms over {pricing_workers()} threads; "
            f"{converged * 100:.2f}% of IVs solved, the rest flagged (prices at a bound); "
            f"American (Bjerksund–Stensland 2002) for {out['american']:,} of the "
            f"{out['signals']:,} signals (best {TOP} of each {CHAIN:,}-contract chain)",
        },
        {
            "name": f"American model vs QuantLib binomial (1,000 steps), {AM_SAMPLE} contracts",
            "value": am_rel,
            "unit": "% max error",
            "reference": f"mean abs error {am_abs:.4f} USD a share; {am_itm} in the money",
        },
        {
            "name": "1M contracts: peak traced memory (numpy buffers)",
            "value": peak / 2**20,
            "unit": "MiB",
            "target": "<= 1024 MiB",
        },
        {
            "name": "1M implied vols: vectorised solver",
            "value": ours_iv * 1000.0,
            "unit": "ms",
            "reference": f"QuantLib impliedVolatility loop, {QL_SAMPLE:,} extrapolated: "
            f"{ql_seconds:,.1f} s",
            "ratio": ql_seconds / ours_iv,
            "target": ">= 10x faster",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
