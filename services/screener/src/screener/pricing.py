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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from screener.ivregion import solve_region

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


def _in_chunks(n: int, fn: Callable[[slice], object]) -> None:
    """Run fn on consecutive slices of range(n), one per core for large n (numpy and
    scipy release the GIL inside their loops); fn writes its own slice of the result."""
    workers = min(_WORKERS, n // _CHUNK_MIN)
    if workers <= 1:
        fn(slice(0, n))
        return
    bounds = np.linspace(0, n, workers + 1).astype(int)
    list(_pool().map(lambda ab: fn(slice(int(ab[0]), int(ab[1]))), itertools.pairwise(bounds)))


def _sign(is_call: np.ndarray) -> np.ndarray:
    """+1.0 for a call, -1.0 for a put: through int8 arithmetic, a tenth of what
    np.where(is_call, 1.0, -1.0) costs on a shuffled million."""
    c = np.asarray(is_call, dtype=bool).view(np.int8)
    return (c + c - np.int8(1)).astype(np.float64)


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
    """Price and every first-order greek plus gamma; large batches split across cores,
    each chunk written straight into its slice of the result arrays."""
    arrays = _arrays(is_call, spot, strike, t, r, q, sigma)
    n = arrays[0].size
    workers = min(_WORKERS, n // _CHUNK_MIN)
    if workers <= 1 or arrays[0].ndim != 1:
        return _greeks(*arrays)
    out = Greeks(*(np.empty(n) for _ in Greeks.__dataclass_fields__))
    fields = list(vars(out).values())
    _in_chunks(
        n, lambda sl: _greeks(*(a[sl] for a in arrays), out=Greeks(*(o[sl] for o in fields)))
    )
    return out


def _greeks(
    is_call: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    out: Greeks | None = None,
) -> Greeks:
    """Price and every first-order greek plus gamma, in one pass over the arrays (into
    `out`'s arrays when given). In-place steps, the formulas' operations in their order."""
    is_call = np.asarray(is_call, dtype=bool)
    spot, strike, t, r, q, sigma, call = _arrays(spot, strike, t, r, q, sigma, is_call)
    if spot.ndim == 0:  # scalars: the same steps on one-element arrays, numpy scalars out
        one = _greeks(*(a.reshape(1) for a in (call, spot, strike, t, r, q, sigma)))
        return Greeks(*(getattr(one, f)[0] for f in Greeks.__dataclass_fields__))
    if out is None:
        out = Greeks(*(np.empty(spot.shape) for _ in Greeks.__dataclass_fields__))
    with np.errstate(all="ignore"):
        sqrt_t = np.sqrt(t)
        vol_t = np.multiply(sigma, sqrt_t)
        d1 = np.divide(spot, strike, out=out.d1)  # (ln(S/K) + (r - q) t) / vol_t + vol_t / 2
        np.log(d1, out=d1)
        tmp = np.subtract(r, q)
        tmp *= t
        d1 += tmp
        d1 /= vol_t
        d1 += np.multiply(0.5, vol_t, out=tmp)
        np.putmask(d1, ~((spot > 0) & (strike > 0) & (t > 0) & (sigma > 0)), np.nan)
        d2 = np.subtract(d1, vol_t, out=out.d2)
        sign = _sign(call.astype(bool))
        df_q = np.negative(q, out=tmp)  # e^(-q t)
        df_q *= t
        np.exp(df_q, out=df_q)
        df_r = np.negative(r)  # e^(-r t)
        df_r *= t
        np.exp(df_r, out=df_r)
        nd1 = np.multiply(sign, d1)  # N(d1) for calls, N(-d1) for puts
        ndtr(nd1, out=nd1)
        nd2 = np.multiply(sign, d2)
        ndtr(nd2, out=nd2)
        pdf1 = np.multiply(-0.5, d1)  # pdf(d1)
        pdf1 *= d1
        np.exp(pdf1, out=pdf1)
        pdf1 *= _INV_SQRT_2PI
        s_q = np.multiply(spot, df_q)
        k_r = np.multiply(strike, df_r)
        price = np.multiply(s_q, nd1, out=out.price)  # sign (s_q N1 - k_r N2)
        price -= np.multiply(k_r, nd2, out=out.rho)  # (rho is written last)
        price *= sign
        delta = np.multiply(sign, df_q, out=out.delta)  # sign df_q N1
        delta *= nd1
        gamma = np.multiply(df_q, pdf1, out=out.gamma)  # df_q pdf1 / (S vol_t)
        gamma /= np.multiply(spot, vol_t, out=vol_t)
        vega = np.multiply(s_q, pdf1, out=out.vega)  # s_q pdf1 sqrt_t
        vega *= sqrt_t
        theta = np.negative(s_q, out=out.theta)  # -s_q pdf1 sigma / (2 sqrt_t) + sign (...)
        theta *= pdf1
        theta *= sigma
        theta /= np.multiply(2.0, sqrt_t, out=sqrt_t)
        s_q *= q  # sign (q s_q N1 - r k_r N2)
        s_q *= nd1
        k_r *= r
        k_r *= nd2
        s_q -= k_r
        s_q *= sign
        theta += s_q
        rho = np.multiply(sign, strike, out=out.rho)  # sign K t df_r N2
        rho *= t
        rho *= df_r
        rho *= nd2
    return out


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
    """N(d2) for a short put, N(-d2) for a short call, from `Greeks.d2` already computed
    (a million contracts: N split across the cores)."""
    d2 = np.asarray(d2, dtype=float)
    if d2.ndim != 1 or np.ndim(is_call) > 1:
        return ndtr(np.where(is_call, -d2, d2))
    out = np.negative(_sign(np.broadcast_to(is_call, d2.shape)))  # -d2 for a call
    out *= d2
    _in_chunks(out.size, lambda sl: ndtr(out[sl], out=out[sl]))
    return out


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
    its region by `ivregion.solve_region` (Halley steps on a concave log objective inside a bracket
    that falls back to bisection): every price strictly inside the bounds converges.
    """
    option_price, call, spot, strike, t, r, q = _arrays(
        option_price, is_call, spot, strike, t, r, q
    )
    call = call.astype(bool)
    shape = option_price.shape
    n = option_price.size
    flag = np.zeros(n, dtype=np.int8)
    p, call, spot, strike, t, r, q = (
        a.ravel() for a in (option_price, call, spot, strike, t, r, q)
    )
    # Every step runs on all n contracts in place (out= buffers, the formulas' operations
    # in their order): selecting the valid ones first would copy every array for the few
    # flagged; `ok` keeps them out of the solves instead.
    with np.errstate(all="ignore"):
        ok = np.isfinite(p)
        for a in (spot, strike, t, r, q):
            ok &= np.isfinite(a)
        ok &= spot > 0
        ok &= strike > 0
        ok &= t > 0
        flag[~ok] = IV_BAD_INPUT
        undisc = np.negative(r)  # p / e^(-r t)
        undisc *= t
        np.exp(undisc, out=undisc)
        np.divide(p, undisc, out=undisc)
        fwd = np.subtract(r, q)  # S e^((r - q) t)
        fwd *= t
        np.exp(fwd, out=fwd)
        fwd *= spot
        intrinsic = np.subtract(fwd, strike)  # max(F - K, 0) for a call, max(K - F, 0) put
        intrinsic *= _sign(call)
        np.maximum(intrinsic, 0.0, out=intrinsic)
        lo_bad = ok & (undisc <= intrinsic)
        hi_bad = call & (undisc >= fwd)  # at or above the bound: S e^-qT call, K e^-rT put
        hi_bad |= ~call & (undisc >= strike)
        hi_bad &= ok & ~lo_bad
        flag[lo_bad] = IV_BELOW_INTRINSIC
        flag[hi_bad] = IV_ABOVE_MAX
        # OTM target through parity: the ITM option minus its forward intrinsic value (an
        # option already out of the money has intrinsic 0: its price is the target).
        target = np.subtract(undisc, intrinsic, out=intrinsic)
        # Parity can leave nothing (an ITM price a hair above intrinsic): the bound check
        # above already caught <= intrinsic, so a non-positive target is rounding: flag it.
        ok = flag == IV_OK
        tiny = target <= 0
        flag[ok & tiny] = IV_BELOW_INTRINSIC
        ok &= ~tiny
        if not ok.any():
            return np.full(shape, np.nan), flag.reshape(shape)
        # Normalise by sqrt(F K): with u = |ln F/K| the OTM put and call are one function.
        u = np.divide(fwd, strike)
        np.log(u, out=u)
        np.abs(u, out=u)
        beta = np.multiply(fwd, strike, out=fwd)  # target / sqrt(F K)
        np.sqrt(beta, out=beta)
        np.divide(target, beta, out=beta)
        emu = np.multiply(-0.5, u)  # the normalized bound e^(-u/2)
        np.exp(emu, out=emu)
        # The price is convex in s below the inflection s_c = sqrt(2u) and concave above it.
        # There d2 = 0 and d1 = sqrt(2u), so b(s_c) = e^(-u/2) / 2 - e^(u/2) N(-sqrt(2u)).
        s_c = np.multiply(2.0, u)
        np.sqrt(s_c, out=s_c)
        b_c = ndtr(np.negative(s_c, out=undisc), out=undisc)
        b_c /= emu
        np.subtract(np.multiply(0.5, emu, out=target), b_c, out=b_c)
        upper = b_c <= beta
        result_s = np.full(n, np.nan)
        up = np.flatnonzero(upper & ok)
        if up.size:
            # Start at s_c or at the at-the-money solution, the larger: for u = 0 the distance
            # to the bound is exactly 2 N(-s/2), so s = -2 N^-1((bound - b) / (2 bound)).
            gap = emu[up] - beta[up]
            atm = -2.0 * ndtri(np.clip(0.5 * gap / emu[up], 1e-300, 0.5))
            start = np.maximum(np.maximum(s_c[up], atm), 1e-4)
            result_s[up] = solve_region(u[up], gap, start, True, tol, max_iter)
        low = np.flatnonzero(~upper & ok)
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
            result_s[low] = solve_region(u[low], beta[low], start, False, tol, max_iter)
        flag[ok & np.isnan(result_s)] = IV_NOT_CONVERGED
        iv = np.divide(result_s, np.sqrt(t, out=s_c), out=result_s)
    return iv.reshape(shape), flag.reshape(shape)


def flag_names(flag: np.ndarray) -> list[str | None]:
    return [IV_FLAG_NAMES.get(int(f), "unknown") for f in np.asarray(flag).ravel()]
