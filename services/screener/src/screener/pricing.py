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
from scipy.special import ndtr, ndtri

ArrayLike = np.ndarray | float

_SQRT_2PI = np.sqrt(2.0 * np.pi)
_INV_SQRT_2PI = 1.0 / _SQRT_2PI

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
    """Price and every first-order greek plus gamma; large batches split across cores."""
    arrays = _arrays(is_call, spot, strike, t, r, q, sigma)
    n = arrays[0].size
    workers = min(_WORKERS, n // _CHUNK_MIN)
    if workers <= 1 or arrays[0].ndim != 1:
        return _greeks(*arrays)
    bounds = np.linspace(0, n, workers + 1).astype(int)
    parts = list(
        _pool().map(
            lambda ab: _greeks(*(a[ab[0] : ab[1]] for a in arrays)), itertools.pairwise(bounds)
        )
    )
    return Greeks(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Greeks.__dataclass_fields__)
    )


def _greeks(
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


def prob_otm_from_d2(is_call: ArrayLike, d2: np.ndarray) -> np.ndarray:
    """N(d2) for a short put, N(-d2) for a short call, from `Greeks.d2` already computed."""
    return ndtr(np.where(is_call, -d2, d2))


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


def prob_above(
    spot: ArrayLike, level: ArrayLike, t: ArrayLike, r: ArrayLike, q: ArrayLike, sigma: ArrayLike
) -> np.ndarray:
    """Risk-neutral P(S_T > level) = N(d2) with the strike replaced by `level`.

    P(profit) of a short put or a covered call is this at its breakeven; NaN where the
    level is not positive or an input is missing.
    """
    _, d2 = d1_d2(spot, level, t, r, q, sigma)
    return ndtr(d2)


def _solve_region(
    u: np.ndarray,
    target: np.ndarray,
    s: np.ndarray,
    upper: bool,
    tol: float,
    max_iter: int,
) -> np.ndarray:
    """Total volatility s for normalized out-of-the-money prices, all in one region.

    Normalized by sqrt(F K) and with u = |ln(F/K)|, the OTM price (put or call alike) is
    b(s) = e^(-u/2) N(-d2) - e^(u/2) N(-d1), d1,2 = u/s +- s/2, rising from 0 to the bound
    e^(-u/2). Below the inflection (`upper` False) the objective is ln b(s) - ln target;
    above it (`upper` True, `target` = bound - price) it is ln(bound - b(s)) - ln target,
    with bound - b = e^(-u/2) N(d2) + e^(u/2) N(-d1) computed directly so it keeps its
    precision near the bound. Both objectives are monotone and concave in s: Halley's step
    (Newton's where the correction is large) converges from the start after at most one
    overshoot, and a bracket [lo, hi] from every evaluation turns any step leaving it into
    a bisection. Returns NaN where max_iter is exhausted (flagged by the caller).
    """
    eu_all = np.exp(0.5 * u)
    emu_all = 1.0 / eu_all
    ln_t_all = np.log(target)
    out = np.full(u.size, np.nan)
    idx = np.arange(u.size)
    uu, eu, emu, ln_t, tt = u, eu_all, emu_all, ln_t_all, target
    lo = np.zeros_like(s)
    hi = np.full_like(s, np.inf)
    for _ in range(max_iter):
        d1 = uu / s + 0.5 * s
        d2 = d1 - s
        if upper:
            v = emu * ndtr(d2) + eu * ndtr(-d1)
            above = v < tt  # the distance to the bound shrinks as s grows
        else:
            v = emu * ndtr(-d2) - eu * ndtr(-d1)
            above = v > tt
        vega = eu * _pdf(d1)
        np.putmask(hi, above, s)
        np.putmask(lo, ~above, s)
        f = np.log(v) - ln_t
        g1 = vega / v
        if upper:
            g1 = -g1
        # d2v/ds2 = vega * d1 * d2 / s (with the sign of the objective)
        g2 = g1 * (d1 * d2 / s - g1)
        if not upper:
            # Below the inflection ln b ~ -u^2 w / 2 with w = 1/s^2: nearly linear in w, so
            # the step is taken in w (ds/dw = -s^3/2, d2s/dw2 = 3 s^5 / 4). In s, a step from
            # far above overshoots to tiny s and climbs back only ~1.5x per iteration.
            s2 = s * s
            g2 = g2 * s2 * s2 * s2 / 4.0 + g1 * 0.75 * s2 * s2 * s
            g1 = g1 * (-0.5 * s2 * s)
        newton = f / g1
        h = 0.5 * newton * g2 / g1
        step = np.where(np.abs(h) < 0.5, newton / (1.0 - h), newton)
        if upper:
            new = s - step
            rel = np.abs(step) / s
        else:
            w_new = 1.0 / (s * s) - step
            new = np.where(w_new > 0, 1.0 / np.sqrt(w_new), np.nan)
            rel = np.abs(step) * s * s * 0.5  # |ds| / s ~ |dw| / (2 w)
        # Converged: the last step was below `tol` (relative), so what is left after it is of
        # order step^2 (Newton) or step^3 (Halley); or the price is matched to the last bits.
        done = (rel <= tol) | (np.abs(f) <= 4e-16)
        outside = ~done & (~np.isfinite(new) | (new < lo) | (new > hi))
        if outside.any():
            bis = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * np.maximum(s, lo))
            np.copyto(new, bis, where=outside)
            done |= np.isfinite(hi) & (hi - lo <= 1e-15 * hi)
        s = new
        if done.any():
            out[idx[done]] = s[done]
            keep = ~done
            if not keep.any():
                break
            idx, s, lo, hi = idx[keep], s[keep], lo[keep], hi[keep]
            uu, eu, emu, ln_t, tt = uu[keep], eu[keep], emu[keep], ln_t[keep], tt[keep]
    return out


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

    Method: an ITM price becomes its out-of-the-money twin through put–call parity, and the
    OTM price, normalised by sqrt(F K), is one function b(u, s) of u = |ln F/K| and the total
    volatility s = sigma*sqrt(t), increasing from 0 to the bound e^(-u/2). It is convex in s
    below the inflection s_c = sqrt(2u) and concave above it, so each contract is solved in
    its region by `_solve_region` (Halley steps on a concave log objective inside a bracket
    that falls back to bisection): every price strictly inside the bounds converges.
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
        def take(a: np.ndarray) -> np.ndarray:
            return a if active.size == n else a[active]  # all valid: no copies

        f_a = take(fwd)
        k_a = take(strike)
        ps_a = take(put_side)
        same_side = take(call) != ps_a  # a call when F<K, or a put when F>=K: already OTM
        und_a = take(undisc)
        target = np.where(same_side, und_a, und_a - take(intrinsic))
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
        # Normalise by sqrt(F K): with u = |ln F/K| the OTM put and call are one function.
        u = np.abs(x)
        beta = target / np.sqrt(f_a * k_a)
        emu = np.exp(-0.5 * u)  # the normalized bound
        # The price is convex in s below the inflection s_c = sqrt(2u) and concave above it.
        # There d2 = 0 and d1 = sqrt(2u), so b(s_c) = e^(-u/2) / 2 - e^(u/2) N(-sqrt(2u)).
        s_c = np.sqrt(2.0 * u)
        b_c = 0.5 * emu - ndtr(-s_c) / emu
        upper = b_c <= beta
        result_s = np.full(active.size, np.nan)
        up = np.flatnonzero(upper)
        if up.size:
            # Start at s_c or at the at-the-money solution, the larger: for u = 0 the distance
            # to the bound is exactly 2 N(-s/2), so s = -2 N^-1((bound - b) / (2 bound)).
            gap = emu[up] - beta[up]
            atm = -2.0 * ndtri(np.clip(0.5 * gap / emu[up], 1e-300, 0.5))
            start = np.maximum(np.maximum(s_c[up], atm), 1e-4)
            result_s[up] = _solve_region(u[up], emu[up] - beta[up], start, True, tol, max_iter)
        low = np.flatnonzero(~upper)
        if low.size:
            # Far below the inflection b behaves like exp(-u^2 / (2 s^2)): start there,
            # refined twice with the tail expansion (Mills ratio): ln b ~ -u^2/(2 s^2)
            # - s^2/8 + ln(s / (d1 d2 sqrt(2 pi))), valid while d2 > 0 (below s_c).
            ln_b = np.log(beta[low])
            ul = u[low]
            cap = np.maximum(s_c[low], 1e-4)
            start = np.clip(ul / np.sqrt(np.maximum(-2.0 * ln_b, 1e-300)), 1e-4, cap)
            for _ in range(2):
                d1 = ul / start + 0.5 * start
                d2 = ul / start - 0.5 * start
                corr = np.log(start / (np.maximum(d1 * d2, 1e-300) * _SQRT_2PI)) - start**2 / 8
                refined = ul / np.sqrt(np.maximum(-2.0 * (ln_b - corr), 1e-300))
                start = np.where(d2 > 0.5, np.clip(refined, 1e-4, cap), start)
            result_s[low] = _solve_region(u[low], beta[low], start, False, tol, max_iter)
        missing = np.isnan(result_s)
        if missing.any():
            flag[active[missing]] = IV_NOT_CONVERGED
        iv[active] = result_s / np.sqrt(t if active.size == n else t[active])
    return iv.reshape(shape), flag.reshape(shape)


def flag_names(flag: np.ndarray) -> list[str | None]:
    return [IV_FLAG_NAMES.get(int(f), "unknown") for f in np.asarray(flag).ravel()]
