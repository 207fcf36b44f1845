"""pricing.py against QuantLib's analytic European engine on 10,000 random contracts.

Both sides use the same model: Black–Scholes–Merton with continuous dividend yield, flat
continuously compounded curves, Actual/365 Fixed, t = DTE / 365. So the only differences
allowed are numerical: IV within 1e-8 wherever vega >= 1e-4, greeks within 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
import QuantLib as ql
from screener import pricing

N = 10_000
SPOT = 100.0


@pytest.fixture(scope="module")
def contracts() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261126)
    return {
        "strike": SPOT * rng.uniform(0.5, 1.5, N),  # moneyness K/S in 0.5–1.5
        "dte": rng.integers(1, 731, N),
        "sigma": rng.uniform(0.05, 3.0, N),
        "r": rng.uniform(0.0, 0.08, N),
        "q": rng.uniform(0.0, 0.05, N),
        "call": rng.random(N) < 0.5,
    }


@pytest.fixture(scope="module")
def reference(contracts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    today = ql.Date(26, 11, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    spot = ql.SimpleQuote(SPOT)
    rate = ql.SimpleQuote(0.0)
    div = ql.SimpleQuote(0.0)
    vol = ql.SimpleQuote(0.2)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(div), dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(rate), dc)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vol), dc)
        ),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    out = {k: np.empty(N) for k in ("price", "delta", "gamma", "vega", "theta", "rho", "iv")}
    for i in range(N):
        rate.setValue(float(contracts["r"][i]))
        div.setValue(float(contracts["q"][i]))
        vol.setValue(float(contracts["sigma"][i]))
        kind = ql.Option.Call if contracts["call"][i] else ql.Option.Put
        option = ql.VanillaOption(
            ql.PlainVanillaPayoff(kind, float(contracts["strike"][i])),
            ql.EuropeanExercise(today + int(contracts["dte"][i])),
        )
        option.setPricingEngine(engine)
        out["price"][i] = option.NPV()
        out["delta"][i] = option.delta()
        out["gamma"][i] = option.gamma()
        out["vega"][i] = option.vega()
        out["theta"][i] = option.theta()
        out["rho"][i] = option.rho()
        try:
            out["iv"][i] = option.impliedVolatility(
                out["price"][i], process, 1e-14, 10_000, 1e-7, 10.0
            )
        except RuntimeError:  # QuantLib's own solver gives up where vega is ~0
            out["iv"][i] = np.nan
    return out


def _ours(contracts: dict[str, np.ndarray]) -> pricing.Greeks:
    return pricing.greeks(
        contracts["call"],
        SPOT,
        contracts["strike"],
        contracts["dte"] / 365.0,
        contracts["r"],
        contracts["q"],
        contracts["sigma"],
    )


@pytest.mark.parametrize("name", ["price", "delta", "gamma", "vega", "theta", "rho"])
def test_price_and_greeks_match_quantlib_to_1e9_relative(contracts, reference, name) -> None:
    ours = getattr(_ours(contracts), name)
    ref = reference[name]
    # relative to the number itself; a floor of 1e-12 absolute for values that are ~0
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


def test_implied_vol_matches_quantlib_where_vega_is_material(contracts, reference) -> None:
    iv, flag = pricing.implied_vol(
        reference["price"],
        contracts["call"],
        SPOT,
        contracts["strike"],
        contracts["dte"] / 365.0,
        contracts["r"],
        contracts["q"],
    )
    material = reference["vega"] >= 1e-4
    assert material.sum() > 0.9 * N
    # every price with material vega is strictly inside the bounds: all must converge
    assert (flag[material] == pricing.IV_OK).all()
    both = material & np.isfinite(reference["iv"])
    assert both.sum() > 0.9 * N
    assert np.max(np.abs(iv[both] - reference["iv"][both])) <= 1e-8
    # and both recover the volatility the price was made with
    assert np.max(np.abs(iv[material] - contracts["sigma"][material])) <= 1e-8
    # where vega is negligible the answer is either right or a flagged NaN, never wrong
    rest = ~material
    ok = flag[rest] == pricing.IV_OK
    assert np.all(np.isnan(iv[rest][~ok]))
