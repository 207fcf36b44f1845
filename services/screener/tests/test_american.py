"""american.py (Bjerksund–Stensland 2002) against QuantLib's American engines.

The reference is `screener.qlref` (also used by `python -m bench screener`): QuantLib's
`BinomialVanillaEngine` (CRR) as the truth, and its `BjerksundStenslandApproximationEngine`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from screener import american, pricing, qlref, signals
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.market import Fundamentals, OptionContract, OptionQuote, Quote
from wheeldesk.schemas.screener import Criteria, SymbolData


def test_bivariate_normal_at_the_fixed_correlation() -> None:
    rho = american._RHO
    assert rho == pytest.approx(np.sqrt((np.sqrt(5) - 1) / 2))  # sqrt(t1 / T) = 0.786
    rng = np.random.default_rng(7)
    a, b = rng.uniform(-8, 8, 60), rng.uniform(-8, 8, 60)
    for positive, r in ((True, rho), (False, -rho)):
        ref = np.array(
            [multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]]).cdf([x, y]) for x, y in zip(a, b, strict=True)]
        )  # fmt: skip
        assert np.max(np.abs(american.bivariate_normal(a, b, positive) - ref)) < 1e-8


@pytest.fixture(scope="module")
def grid() -> dict[str, np.ndarray]:
    """Puts and calls in and out of the money, 7–180 DTE, 15–60 % vol, carry both ways."""
    rng = np.random.default_rng(20260617)
    n = 80
    return {
        "call": np.arange(n) % 2 == 0,
        "spot": np.full(n, 100.0),
        "strike": 100.0 * rng.uniform(0.75, 1.25, n),
        "days": rng.integers(7, 181, n),
        "r": rng.uniform(0.0, 0.06, n),
        "q": rng.uniform(0.0, 0.05, n),
        "sigma": rng.uniform(0.15, 0.60, n),
    }


def _args(g: dict[str, np.ndarray]) -> tuple:  # type: ignore[type-arg]
    return g["call"], g["spot"], g["strike"], g["days"], g["r"], g["q"], g["sigma"]


def test_prices_match_quantlibs_american_engines(grid) -> None:  # type: ignore[no-untyped-def]
    c, s, k, d, r, q, v = _args(grid)
    truth = qlref.american_price(c, s, k, d, r, q, v, steps=1000)
    ql_bs = qlref.american_price(c, s, k, d, r, q, v, engine="bjerksund_stensland")
    ours = american.price(c, s, k, d / 365.0, r, q, v)
    euro = pricing.price(c, s, k, d / 365.0, r, q, v)
    itm = np.where(c, s > k, s < k)
    assert itm.sum() > 20 and (~itm).sum() > 20  # both sides of the money, both rights
    err = np.abs(ours - truth)
    # Within 1 % of the binomial price (or 2 cents), as close as QuantLib's own
    # Bjerksund–Stensland on average, and never below the European price.
    assert np.all(err <= np.maximum(0.01 * truth, 0.02)), np.max(err / truth)
    assert err.mean() <= np.abs(ql_bs - truth).mean() * 1.05
    assert np.all(ours >= euro - 1e-12)
    # where early exercise cannot pay (put with r = 0, call with q = 0) it IS the European
    none = american.price(np.array([True, False]), 100.0, 90.0, 0.25, np.array([0.05, 0.0]),
                          np.array([0.0, 0.03]), 0.3)  # fmt: skip
    assert none == pytest.approx(
        pricing.price(np.array([True, False]), 100.0, 90.0, 0.25, np.array([0.05, 0.0]),
                      np.array([0.0, 0.03]), 0.3), abs=1e-12
    )  # fmt: skip


@pytest.mark.parametrize(
    ("strike", "days", "sigma"),
    [(105.0, 30, 0.25), (110.0, 30, 0.30), (110.0, 60, 0.40), (115.0, 45, 0.35), (120.0, 90, 0.50)],
)
def test_iv_of_an_in_the_money_american_put_is_recovered(strike, days, sigma) -> None:  # type: ignore[no-untyped-def]
    # the market price is QuantLib's 2,000-step binomial price at the true sigma (r = 4 %)
    price = float(qlref.american_price(np.array([False]), 100.0, strike, days, 0.04, 0.0, sigma)[0])
    assert price - (strike - 100.0) > 0.10  # some time value: an IV exists
    iv, flag = american.implied_vol(price, False, 100.0, strike, days / 365.0, 0.04, 0.0)
    assert int(flag) == pricing.IV_OK
    assert abs(float(iv) - sigma) < 0.005  # within 0.5 vol points
    # the European model on the same price is further off
    euro, _ = pricing.implied_vol(price, False, 100.0, strike, days / 365.0, 0.04, 0.0)
    assert abs(float(euro) - sigma) > abs(float(iv) - sigma)


def test_the_issues_deep_in_the_money_put() -> None:
    # S = 100, K = 130, 30 DTE, true sigma 30 %, r = 4 %: an American put there is worth its
    # exercise value (exercise now beats waiting), 30.00 in QuantLib's binomial tree too.
    truth = float(qlref.american_price(np.array([False]), 100.0, 130.0, 30, 0.04, 0.0, 0.30)[0])
    assert truth == pytest.approx(30.0, abs=1e-9)
    assert float(american.price(False, 100.0, 130.0, 30 / 365, 0.04, 0.0, 0.30)) == 30.0
    # the European model reads that price as 56 % IV and |delta| 0.93 ...
    euro, _ = pricing.implied_vol(truth, False, 100.0, 130.0, 30 / 365, 0.04, 0.0)
    assert float(euro) > 0.55
    # ... the American one says no IV can be had from an exercise-value price, and delta 1
    iv, flag = american.implied_vol(truth, False, 100.0, 130.0, 30 / 365, 0.04, 0.0)
    assert np.isnan(iv) and int(flag) == pricing.IV_BELOW_INTRINSIC
    assert float(american.delta(False, 100.0, 130.0, 30 / 365, 0.04, 0.0, 0.30)) == pytest.approx(
        -1.0, abs=1e-6
    )


def test_a_held_in_the_money_put_is_valued_as_american() -> None:
    # Held short 110 put (sold at 11.00), S = 100, 30 DTE, r = 4 %, no IB greeks; the quote
    # straddles QuantLib's binomial price at sigma 30 %. The signal's IV is the American one.
    now = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)  # Wed 10:30 ET
    expiry = date(2026, 6, 17) + timedelta(days=30)
    # the expiry's close is 30.229 days away
    fair = float(qlref.american_price(np.array([False]), 100.0, 110.0, 30, 0.04, 0.0, 0.30)[0])
    held = OptionQuote(
        contract=OptionContract(symbol="KO", expiry=expiry, strike=110.0, right="P"),
        bid=round(fair - 0.02, 2), ask=round(fair + 0.02, 2), open_interest=500,
    )  # fmt: skip
    position = Position(
        account_id="DU1", symbol="KO", sec_type="OPT", quantity=-1, avg_cost=1100.0,
        expiry=expiry, strike=110.0, right="P", multiplier=100,
    )  # fmt: skip
    data = SymbolData(
        symbol="KO", quote=Quote(symbol="KO", last=100.0), fundamentals=Fundamentals()
    )
    ctx = signals.Context(criteria=Criteria(take_profit_pct=1.0), now=now, rate=0.04)
    (sig,), _ = signals.manage_short(position, [held], data, ctx)
    assert sig.kind == "CLOSE" and sig.pricing_model == "american"
    assert sig.iv == pytest.approx(0.30, abs=0.01)
    euro, _ = pricing.implied_vol(
        (held.bid + held.ask) / 2, False, 100.0, 110.0, 30.229 / 365, 0.04, 0.0
    )
    assert float(euro) > sig.iv + 0.01  # the European IV of the same quote is higher


def test_price_endpoint_american_and_dividend_yield_in_percent() -> None:
    from fastapi.testclient import TestClient
    from screener.app import build_app
    from screener.settings import ScreenerSettings
    from wheeldesk_testing.procs import free_port

    settings = ScreenerSettings(
        internal_api_token="t",
        bridge_url=f"http://127.0.0.1:{free_port()}",
        nats_url=f"nats://127.0.0.1:{free_port()}",
    )
    item = {"right": "P", "spot": 100.0, "strike": 110.0, "dte": 30, "rate": 0.04}
    fair = float(qlref.american_price(np.array([False]), 100.0, 110.0, 30, 0.04, 0.0, 0.30)[0])
    with TestClient(build_app(settings), base_url="http://127.0.0.1") as client:
        body = {
            "items": [
                {**item, "price": fair, "american": True},
                {**item, "price": fair},
                # 3 = 3 % a year, the unit of Fundamentals.dividend_yield
                {**item, "right": "C", "strike": 100.0, "iv": 0.3, "dividend_yield": 3},
            ]
        }
        response = client.post("/v1/price", json=body, headers={"Authorization": "Bearer t"})
        assert response.status_code == 200, response.text
        r = response.json()
    am, eu, call = r["results"]
    assert am["iv"] == pytest.approx(0.30, abs=0.005) and eu["iv"] > am["iv"] + 0.01
    assert am["price"] == pytest.approx(fair, abs=1e-3)
    expected = pricing.price(True, 100.0, 100.0, 30 / 365, 0.04, 0.03, 0.3)
    assert call["price"] == pytest.approx(float(expected), abs=1e-12)


def test_a_held_put_at_its_exercise_value_has_delta_one_not_a_model_iv() -> None:
    # The issue's case, held: short 130 put, S = 100, 14 DTE, r = 4 %, quote 29.90 / 30.00
    # (mid 29.95: at the exercise value 30, no time value left) and no IB greeks. The European
    # model would read ~57 % IV, |delta| 0.93 and a 5 % P(OTM); the American one says the
    # price carries no IV, delta 1, and takes the stock's IV (30 %) for the probabilities:
    # P(OTM) = N(d2) with ln(100/130) = -0.262364, sigma sqrt(T) = 0.3 x sqrt(14.229/365)
    # = 0.059232: d2 = (-0.262364 + (0.04 - 0.045) x 0.038984) / 0.059232 = -4.43 -> ~0 %.
    now = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)
    expiry = date(2026, 6, 17) + timedelta(days=14)
    held = OptionQuote(
        contract=OptionContract(symbol="KO", expiry=expiry, strike=130.0, right="P"),
        bid=29.90, ask=30.00, open_interest=500,
    )  # fmt: skip
    position = Position(
        account_id="DU1", symbol="KO", sec_type="OPT", quantity=-1, avg_cost=2500.0,
        expiry=expiry, strike=130.0, right="P", multiplier=100,
    )  # fmt: skip
    data = SymbolData(
        symbol="KO", quote=Quote(symbol="KO", last=100.0), fundamentals=Fundamentals(),
        iv_history=[0.25, 0.28, 0.30],
    )  # fmt: skip
    ctx = signals.Context(criteria=Criteria(), now=now, rate=0.04)
    (sig,), _ = signals.manage_short(position, [held], data, ctx)
    assert sig.kind == "CLOSE" and sig.pricing_model == "american"
    assert sig.abs_delta == 1.0
    assert sig.iv == 0.30 and sig.pop < 0.1
    assert sig.skipped == [
        "IV unknown: the option's price is at its exercise value (no time value left, delta 1);"
        " the stock's implied volatility 30.0% used for the probabilities"
    ]
    # without a year of IV history there is nothing to stand in: P(OTM) is unknown (null),
    # never NaN in the JSON, never a made-up number
    bare = data.model_copy(update={"iv_history": []})
    (sig,), _ = signals.manage_short(position, [held], bare, ctx)
    assert sig.pop is None and sig.iv is None and sig.abs_delta == 1.0
    assert "P(OTM) unknown (no IV); |delta| 1.00" in sig.reasons
    assert '"pop":null' in sig.model_dump_json() and sig.expected_move is None
    # what the web receives parses back (no NaN turned into a null a required field refuses)
    from wheeldesk.schemas.screener import Signal

    assert Signal.model_validate_json(sig.model_dump_json()).pop is None
