"""Black–Scholes–Merton (continuous dividend yield) on numpy arrays: price, greeks, IV.

Conventions (the same as QuantLib's analytic European engine with Actual/365 Fixed and
continuously compounded flat curves, which the tests use as the independent reference):
`t` is in years (calendar days / 365), `r` and `q` are continuous rates, `sigma` is a fraction.
Greeks are in model units: vega per 1.00 of volatility, theta per year, rho per 1.00 of rate.
Callers that show IB-style numbers convert (theta / 365 per day, vega / 100 per vol point).

Nothing here raises on bad numbers: invalid inputs give NaN, and `implied_vol` says why in
its flag array, so one bad quote never sinks a scan of a million contracts.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

ArrayLike = np.ndarray | float

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)

# implied_vol flags
IV_OK = 0
IV_BELOW_INTRINSIC = 1  # price <= the no-arbitrage lower bound (discounted intrinsic)
IV_ABOVE_MAX = 2  # price >= the no-arbitrage upper bound (S e^-qT for a call, K e^-rT for a put)
IV_BAD_INPUT = 3  # non-finite or non-positive spot/strike/time, or a missing price
IV_NOT_CONVERGED = 4  # never seen in tests; kept so a failure is flagged, not silently wrong
IV_FLAG_NAMES = {
    IV_OK: None,
    IV_BELOW_INTRINSIC: "below_intrinsic",
    IV_ABOVE_MAX: "above_upper_bound",
    IV_BAD_INPUT: "bad_input",
    IV_NOT_CONVERGED: "not_converged",
}


_WORKERS = os.cpu_count() or 1
_CHUNK_MIN = 50_000  # below this, one thread: splitting costs more than it saves
_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="pricing")
    return _POOL


def _pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) * _INV_SQRT_2PI


@dataclass(frozen=True)
class Greeks:
    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    rho: np.ndarray
    d1: np.ndarray
    d2: np.ndarray


def _arrays(*values: ArrayLike) -> list[np.ndarray]:
    return list(np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in values]))


def d1_d2(
    spot: ArrayLike, strike: ArrayLike, t: ArrayLike, r: ArrayLike, q: ArrayLike, sigma: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    spot, strike, t, r, q, sigma = _arrays(spot, strike, t, r, q, sigma)
    with np.errstate(all="ignore"):
        vol_t = sigma * np.sqrt(t)
        d1 = (np.log(spot / strike) + (r - q) * t) / vol_t + 0.5 * vol_t
        bad = ~((spot > 0) & (strike > 0) & (t > 0) & (sigma > 0))
        d1 = np.where(bad, np.nan, d1)
        return d1, d1 - vol_t


def greeks(
    is_call: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
) -> Greeks:
    """Price and every first-order greek plus gamma, in one pass over the arrays."""
    is_call = np.asarray(is_call, dtype=bool)
    spot, strike, t, r, q, sigma, call = _arrays(spot, strike, t, r, q, sigma, is_call)
    call = call.astype(bool)
    with np.errstate(all="ignore"):
        sqrt_t = np.sqrt(t)
        vol_t = sigma * sqrt_t
        d1 = (np.log(spot / strike) + (r - q) * t) / vol_t + 0.5 * vol_t
        bad = ~((spot > 0) & (strike > 0) & (t > 0) & (sigma > 0))
        d1 = np.where(bad, np.nan, d1)
        d2 = d1 - vol_t
        sign = np.where(call, 1.0, -1.0)
        df_q = np.exp(-q * t)
        df_r = np.exp(-r * t)
        nd1 = ndtr(sign * d1)  # N(d1) for calls, N(-d1) for puts
        nd2 = ndtr(sign * d2)
        pdf1 = _pdf(d1)
        s_q = spot * df_q
        k_r = strike * df_r
        price = sign * (s_q * nd1 - k_r * nd2)
        delta = sign * df_q * nd1
        gamma = df_q * pdf1 / (spot * vol_t)
        vega = s_q * pdf1 * sqrt_t
        theta = -s_q * pdf1 * sigma / (2.0 * sqrt_t) + sign * (q * s_q * nd1 - r * k_r * nd2)
        rho = sign * strike * t * df_r * nd2
    return Greeks(price, delta, gamma, vega, theta, rho, d1, d2)


def price(
    is_call: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
) -> np.ndarray:
    return greeks(is_call, spot, strike, t, r, q, sigma).price


def prob_otm(
    is_call: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
) -> np.ndarray:
    """Risk-neutral probability the option expires worthless: put N(d2), call N(-d2)."""
    _, d2 = d1_d2(spot, strike, t, r, q, sigma)
    is_call = np.broadcast_to(np.asarray(is_call, dtype=bool), d2.shape)
    return ndtr(np.where(is_call, -d2, d2))


def _otm_black(x, s, fwd, strike, put_side, upper):
    """Undiscounted out-of-the-money Black price, or its distance to the bound, and vega.

    `x = ln(F/K)`, `s` = total volatility sigma*sqrt(t). When F >= K the OTM option is the put,
    otherwise the call; pricing the OTM side avoids the cancellation an ITM price suffers.
    Where `upper`, returns `bound - price = F N(-d1) + K N(d2)` (the same for both sides),
    computed directly so it keeps its precision when the price nears the bound.
    """
    d1 = x / s + 0.5 * s
    d2 = d1 - s
    sgn = np.where(put_side, -1.0, 1.0)
    n1 = ndtr(np.where(upper, -d1, sgn * d1))
    n2 = ndtr(np.where(upper, d2, sgn * d2))
    value = np.where(upper, fwd * n1 + strike * n2, sgn * (fwd * n1 - strike * n2))
    vega = fwd * _pdf(d1)
    return value, vega, vega * d1 * d2 / s


def implied_vol(
    option_price: ArrayLike,
    is_call: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    *,
    tol: float = 1e-9,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Implied volatility for every price strictly inside the no-arbitrage bounds.

    Returns `(iv, flag)`: where `flag != IV_OK` the iv is NaN and the flag says why
    (`IV_FLAG_NAMES`). Never raises. Large batches are split across the CPU cores (numpy
    and scipy release the GIL inside their loops); see `_implied_vol` for the method.
    """
    arrays = _arrays(option_price, is_call, spot, strike, t, r, q)
    shape = arrays[0].shape
    flat = [a.ravel() for a in arrays]
    n = flat[0].size
    workers = min(_WORKERS, n // _CHUNK_MIN)
    if workers <= 1:
        iv, flag = _implied_vol(*flat, tol=tol, max_iter=max_iter)
        return iv.reshape(shape), flag.reshape(shape)
    bounds = np.linspace(0, n, workers + 1).astype(int)
    parts = list(
        _pool().map(
            lambda ab: _implied_vol(*(a[ab[0] : ab[1]] for a in flat), tol=tol, max_iter=max_iter),
            itertools.pairwise(bounds),
        )
    )
    iv = np.concatenate([p[0] for p in parts]).reshape(shape)
    flag = np.concatenate([p[1] for p in parts]).reshape(shape)
    return iv, flag


def _implied_vol(
    option_price: ArrayLike,
    is_call: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    *,
    tol: float = 1e-9,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """The solver on one chunk.

    Method: work with the undiscounted out-of-the-money price (an ITM price is turned into
    its OTM twin through put–call parity) as a function of total volatility s = sigma*sqrt(t),
    which is increasing in s on (0, inf) from 0 to the bound. Newton's method is run on
    ln(price(s)) - ln(target): that function is increasing and concave in s, so a Newton step
    never jumps past the root from below and converges from anywhere in few steps; a bracket
    [lo, hi] kept from every evaluation catches the rest (a step leaving it is replaced by
    bisection), so the iteration converges for every attainable price. Only the contracts
    still unconverged are computed in each iteration.
    """
    option_price, call, spot, strike, t, r, q = _arrays(
        option_price, is_call, spot, strike, t, r, q
    )
    call = call.astype(bool)
    shape = option_price.shape
    n = option_price.size
    iv = np.full(n, np.nan)
    flag = np.zeros(n, dtype=np.int8)
    p, call, spot, strike, t, r, q = (
        a.ravel() for a in (option_price, call, spot, strike, t, r, q)
    )
    with np.errstate(all="ignore"):
        ok_input = (
            np.isfinite(p)
            & np.isfinite(spot)
            & np.isfinite(strike)
            & np.isfinite(t)
            & np.isfinite(r)
            & np.isfinite(q)
            & (spot > 0)
            & (strike > 0)
            & (t > 0)
        )
        flag[~ok_input] = IV_BAD_INPUT
        df_r = np.exp(-r * t)
        fwd = spot * np.exp((r - q) * t)
        undisc = p / df_r
        put_side = fwd >= strike  # the OTM option is the put
        intrinsic = np.maximum(np.where(call, fwd - strike, strike - fwd), 0.0)
        upper = np.where(call, fwd, strike)
        lo_bad = ok_input & (undisc <= intrinsic)
        hi_bad = ok_input & ~lo_bad & (undisc >= upper)
        flag[lo_bad] = IV_BELOW_INTRINSIC
        flag[hi_bad] = IV_ABOVE_MAX
        active = np.flatnonzero(flag == IV_OK)
        if active.size == 0:
            return iv.reshape(shape), flag.reshape(shape)

        # OTM target through parity: the ITM option minus its forward intrinsic value.
        f_a = fwd[active]
        k_a = strike[active]
        ps_a = put_side[active]
        same_side = call[active] != ps_a  # a call when F<K, or a put when F>=K: already OTM
        target = np.where(same_side, undisc[active], undisc[active] - intrinsic[active])
        x = np.log(f_a / k_a)
        bound = np.where(ps_a, k_a, f_a)
        # Parity can leave nothing (an ITM price a hair above intrinsic): the bound check
        # above already caught <= intrinsic, so a non-positive target is rounding: flag it.
        tiny = target <= 0
        if tiny.any():
            flag[active[tiny]] = IV_BELOW_INTRINSIC
            keep = ~tiny
            active, f_a, k_a, ps_a, target, x, bound = (
                a[keep] for a in (active, f_a, k_a, ps_a, target, x, bound)
            )
        # The price as a function of s is convex below the inflection point s_c = sqrt(2|x|)
        # and concave above it. Below, Newton runs on ln(price) - ln(target); above, on
        # ln(bound - price) - ln(bound - target). Both objectives are monotone and concave,
        # so Newton converges from s_c after at most one overshoot, quadratically near the
        # root; the bracket [lo, hi] replaces any step that would leave it by bisection.
        s = np.maximum(np.sqrt(2.0 * np.abs(x)), 1e-4)
        first, _, _ = _otm_black(x, s, f_a, k_a, ps_a, np.zeros(s.size, dtype=bool))
        upper = first <= target
        # Below the inflection the price behaves like exp(-x^2 / (2 s^2)): start there.
        beta = target / np.sqrt(f_a * k_a)
        s_low = np.abs(x) / np.sqrt(np.maximum(-2.0 * np.log(beta), 1e-300))
        s = np.where(upper, s, np.clip(s_low, 1e-4, s))
        ctarget = np.where(upper, bound - target, target)
        ln_target = np.log(ctarget)
        lo = np.zeros_like(s)
        hi = np.full_like(s, np.inf)
        idx = np.arange(active.size)
        result_s = np.full(active.size, np.nan)
        for _it in range(max_iter):
            value, vega, volga = _otm_black(x[idx], s, f_a[idx], k_a[idx], ps_a[idx], upper[idx])
            ct = ctarget[idx]
            up = upper[idx]
            above = np.where(up, value < ct, value > ct)  # s is above the root
            hi = np.where(above, s, hi)
            lo = np.where(above, lo, s)
            f = np.log(value) - ln_target[idx]
            # Halley's step (cubic convergence) on g = ln(v) - ln(target), v the price or
            # its distance to the bound; plain Newton where the correction is too large.
            dv = np.where(up, -vega, vega)
            d2v = np.where(up, -volga, volga)
            g1 = dv / value
            g2 = d2v / value - g1 * g1
            newton = f / g1
            h = 0.5 * newton * g2 / g1
            step = np.where(np.abs(h) < 0.5, newton / (1.0 - h), newton)
            new_s = s - step
            # Converged: the last step was below `tol` (relative), so what is left after it is
            # of order step^2 (Newton) or step^3 (Halley), or the price is matched to
            # the last bits (further steps would only chase rounding noise).
            done = (np.abs(step) <= tol * s) | (np.abs(f) <= 4e-16)
            # Outside the bracket (or non-finite): bisect, or grow when no upper bound yet.
            outside = ~done & (~np.isfinite(new_s) | (new_s < lo) | (new_s > hi))
            bisect = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * np.maximum(s, lo))
            new_s = np.where(outside, bisect, new_s)
            done |= np.isfinite(hi) & (hi - lo <= 1e-15 * hi)
            s = new_s
            if done.any():
                result_s[idx[done]] = s[done]
                keep = ~done
                idx, s, lo, hi = idx[keep], s[keep], lo[keep], hi[keep]
                if idx.size == 0:
                    break
        if idx.size:
            flag[active[idx]] = IV_NOT_CONVERGED
        iv[active] = result_s / np.sqrt(t[active])
    return iv.reshape(shape), flag.reshape(shape)


def flag_names(flag: np.ndarray) -> list[str | None]:
    return [IV_FLAG_NAMES.get(int(f), "unknown") for f in np.asarray(flag).ravel()]
