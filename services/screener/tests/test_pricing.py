"""Implied volatility at and beyond the no-arbitrage bounds: flagged NaN, never an exception."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from screener import pricing


def test_prices_outside_the_bounds_are_flagged_nan() -> None:
    # Call, S = 100, K = 90, 1 year, r = q = 0: bounds are (max(S - K, 0), S) = (10, 100).
    # Put, same: (max(K - S, 0), K) = (0, 90).
    prices = np.array([9.99, 10.0, 100.0, 150.0, 0.0, 90.0, -1.0])
    calls = np.array([True, True, True, True, False, False, False])
    iv, flag = pricing.implied_vol(prices, calls, 100.0, 90.0, 1.0, 0.0, 0.0)
    assert np.isnan(iv).all()
    assert flag.tolist() == [
        pricing.IV_BELOW_INTRINSIC,  # under intrinsic
        pricing.IV_BELOW_INTRINSIC,  # exactly intrinsic: zero volatility is not a solution
        pricing.IV_ABOVE_MAX,  # exactly the bound: infinite volatility
        pricing.IV_ABOVE_MAX,
        pricing.IV_BELOW_INTRINSIC,  # a put worth 0 (OTM, intrinsic 0)
        pricing.IV_ABOVE_MAX,  # a put worth its strike
        pricing.IV_BELOW_INTRINSIC,
    ]
    assert pricing.flag_names(flag)[0] == "below_intrinsic"
    assert pricing.flag_names(flag)[2] == "above_upper_bound"


def test_bad_inputs_are_flagged_not_raised() -> None:
    iv, flag = pricing.implied_vol(
        [np.nan, 1.0, 1.0, 1.0, np.inf],
        True,
        [100, -5, 100, 100, 100],
        100.0,
        [1, 1, 0, 1, 1],
        0.0,
        0.0,
    )
    # NaN price, negative spot, zero time, infinite price: flagged; the valid one solves
    assert flag.tolist() == [pricing.IV_BAD_INPUT] * 3 + [pricing.IV_OK, pricing.IV_BAD_INPUT]
    assert np.isnan(iv[[0, 1, 2, 4]]).all()
    assert float(pricing.price(True, 100.0, 100.0, 1.0, 0.0, 0.0, iv[3])) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("spot", "strike", "t", "sigma"),
    [
        (100.0, 100.0, 1 / 365, 0.05),  # ATM, one day, low vol
        (100.0, 60.0, 2.0, 0.01),  # deep ITM call / far OTM put, 1 % vol
        (100.0, 150.0, 1 / 365, 3.0),  # far OTM call, one day, 300 % vol
        (100.0, 100.0, 2.0, 5.0),  # near the upper bound: 500 % vol for 2 years
        (100.0, 1000.0, 0.5, 0.8),  # ten times the price
    ],
)
def test_every_price_inside_the_bounds_converges(spot, strike, t, sigma) -> None:  # type: ignore[no-untyped-def]
    for call in (True, False):
        price = pricing.price(call, spot, strike, t, 0.03, 0.01, sigma)
        iv, flag = pricing.implied_vol(price, call, spot, strike, t, 0.03, 0.01)
        vega = pricing.greeks(call, spot, strike, t, 0.03, 0.01, sigma).vega
        if flag == pricing.IV_OK:
            # recovers sigma where the price carries information about it
            if vega > 1e-4:
                assert float(iv) == pytest.approx(sigma, abs=1e-8)
            # and always reprices to the given price
            repriced = pricing.price(call, spot, strike, t, 0.03, 0.01, iv)
            assert float(repriced) == pytest.approx(float(price), rel=1e-9, abs=1e-12)
        else:  # only a price rounded onto its bound may be flagged
            assert np.isnan(iv) and vega < 1e-4


def test_large_batches_split_across_cores_give_the_same_answer() -> None:
    rng = np.random.default_rng(3)
    n = 120_000
    strike = rng.uniform(50, 150, n)
    t = rng.integers(1, 731, n) / 365
    sigma = rng.uniform(0.05, 3.0, n)
    call = rng.random(n) < 0.5
    price = pricing.price(call, 100.0, strike, t, 0.04, 0.0, sigma)
    whole, flag = pricing.implied_vol(price, call, 100.0, strike, t, 0.04, 0.0)
    piece, _ = pricing.implied_vol(
        price[:1000], call[:1000], 100.0, strike[:1000], t[:1000], 0.04, 0.0
    )
    np.testing.assert_array_equal(whole[:1000], piece)
    ok = flag == pricing.IV_OK
    assert ok.mean() > 0.99
    assert (
        np.nanmax(
            np.abs(whole[ok] - sigma[ok])[
                pricing.greeks(call, 100.0, strike, t, 0.04, 0.0, sigma).vega[ok] > 1e-4
            ]
        )
        < 1e-8
    )


def test_greeks_and_p_otm_split_across_cores_match_one_piece() -> None:
    # 120,000 contracts are split across the cores and each chunk is written into its slice
    # of the result: the first 1,000 must be exactly what 1,000 alone give (one chunk).
    rng = np.random.default_rng(5)
    n = 120_000
    call = rng.random(n) < 0.5
    strike = rng.uniform(50, 150, n)
    t = rng.integers(1, 731, n) / 365
    r, q = rng.uniform(0, 0.08, n), rng.uniform(0, 0.05, n)
    sigma = rng.uniform(0.05, 3.0, n)
    whole = pricing.greeks(call, 100.0, strike, t, r, q, sigma)
    piece = pricing.greeks(
        call[:1000], 100.0, strike[:1000], t[:1000], r[:1000], q[:1000], sigma[:1000]
    )
    for name in pricing.Greeks.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(whole, name)[:1000], getattr(piece, name))
    p_otm = pricing.prob_otm_from_d2(call, whole.d2)
    np.testing.assert_array_equal(p_otm[:1000], pricing.prob_otm_from_d2(call[:1000], piece.d2))
    # a short put expires worthless with N(d2), a short call with N(-d2)
    np.testing.assert_allclose(p_otm, np.where(call, norm.sf(whole.d2), norm.cdf(whole.d2)))
