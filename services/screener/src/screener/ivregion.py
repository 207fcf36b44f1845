"""The iteration inside `pricing.implied_vol`: Halley steps on one region of the
normalised out-of-the-money price, on numpy arrays (a million contracts in the bench).

Its own module so pricing.py stays one reading long; `pricing._implied_vol` prepares the
regions and the starting points, this solves them.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def solve_region(
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
    a bisection (`_region_step`). Returns NaN where max_iter is exhausted (flagged by the
    caller).

    Converged contracts are written out at once but dropped from the working arrays only
    once a quarter of them are done: copying nine arrays to drop 2 % costs more than
    carrying those 2 % along for one more step (their results are never read again).
    """
    eu = np.exp(0.5 * u)
    a = {
        "idx": np.arange(u.size),
        "s": s,
        "lo": np.zeros_like(s),
        "hi": np.full_like(s, np.inf),
        "u": u,
        "eu": eu,
        "emu": 1.0 / eu,
        "ln_t": np.log(target),
        "t": target,
    }
    out = np.full(u.size, np.nan)
    live = None  # which of the working contracts are still unsolved (None: all)
    for _ in range(max_iter):
        done = _region_step(a, upper, tol)
        if live is not None:
            done &= live
        if not done.any():
            continue
        at = np.flatnonzero(done)  # integer gathers: a shuffled boolean mask costs more
        out[a["idx"][at]] = a["s"][at]
        live = np.logical_not(done, out=done) if live is None else np.logical_and(live, ~done)
        left = np.count_nonzero(live)
        if left == 0:
            break
        if left <= 0.75 * live.size:
            keep = np.flatnonzero(live)
            a = {k: v[keep] for k, v in a.items()}
            live = None
    return out


def _region_step(a: dict[str, np.ndarray], upper: bool, tol: float) -> np.ndarray:
    """One safeguarded Halley step of `_solve_region` on its working arrays `a` (s, lo and
    hi updated); returns where it converged. Written with out= buffers: the same operations
    in the same order as the formulas in the comments, so the same bits, with a fraction of
    the million-element temporaries."""
    s, lo, hi, uu, eu, emu = a["s"], a["lo"], a["hi"], a["u"], a["eu"], a["emu"]
    d1 = np.divide(uu, s)
    buf = np.multiply(0.5, s)
    d1 += buf  # d1 = u / s + 0.5 s
    d2 = np.subtract(d1, s)
    nd1 = ndtr(np.negative(d1, out=buf), out=buf)
    nd1 *= eu  # e^(u/2) N(-d1)
    if upper:  # v = e^(-u/2) N(d2) + e^(u/2) N(-d1); above: v < target
        v = ndtr(d2)
        v *= emu
        v += nd1
        above = v < a["t"]
    else:  # v = e^(-u/2) N(-d2) - e^(u/2) N(-d1); above: v > target
        v = ndtr(np.negative(d2))
        v *= emu
        v -= nd1
        above = v > a["t"]
    vega = np.multiply(-0.5, d1, out=buf)  # vega = e^(u/2) pdf(d1)
    vega *= d1
    np.exp(vega, out=vega)
    vega *= _INV_SQRT_2PI
    vega *= eu
    np.putmask(hi, above, s)
    np.putmask(lo, np.logical_not(above, out=above), s)
    f = np.log(v)
    f -= a["ln_t"]  # f = ln v - ln target
    g1 = np.divide(vega, v, out=vega)
    if upper:
        np.negative(g1, out=g1)
    g2 = np.multiply(d1, d2, out=v)  # d2v/ds2 = vega d1 d2 / s: g2 = g1 (d1 d2 / s - g1)
    g2 /= s
    g2 -= g1
    g2 *= g1
    if not upper:
        s2 = _in_w(g1, g2, s, d1, d2)
    newton = np.divide(f, g1)
    h = np.multiply(0.5, newton, out=d2)  # h = 0.5 newton g2 / g1
    h *= g2
    h /= g1
    halley = np.abs(h, out=g2) < 0.5  # step = newton / (1 - h) where |h| < 0.5, else newton
    np.subtract(1.0, h, out=h)
    np.copyto(newton, np.divide(newton, h, out=h), where=halley)
    step = newton
    if upper:
        new = np.subtract(s, step, out=g1)
        rel = np.abs(step, out=step)  # |step| / s
        rel /= s
    else:
        new = np.divide(1.0, s2, out=g1)  # w_new = 1 / s^2 - step; s = 1 / sqrt(w_new)
        new -= step
        bad = ~(new > 0)
        np.sqrt(new, out=new)
        np.divide(1.0, new, out=new)
        np.putmask(new, bad, np.nan)
        rel = np.abs(step, out=step)  # |ds| / s ~ |dw| / (2 w) = |step| s s 0.5
        rel *= s
        rel *= s
        rel *= 0.5
    done = _converged(rel, f, tol, new, s, lo, hi)
    a["s"] = new
    return done


def _in_w(
    g1: np.ndarray, g2: np.ndarray, s: np.ndarray, b1: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """The lower region's derivatives taken in w = 1/s^2 (g1, g2 in place; b1, b2 free
    buffers); returns s^2 (in b1).

    Below the inflection ln b ~ -u^2 w / 2: nearly linear in w, so the step is taken in w
    (ds/dw = -s^3/2, d2s/dw2 = 3 s^5 / 4). In s, a step from far above overshoots to tiny s
    and climbs back only ~1.5x per iteration.
    """
    s2 = np.multiply(s, s, out=b1)
    g2 *= s2  # g2 = g2 s2^3 / 4 + 0.75 g1 s2^2 s
    g2 *= s2
    g2 *= s2
    g2 /= 4.0
    tmp = np.multiply(g1, 0.75, out=b2)
    tmp *= s2
    tmp *= s2
    tmp *= s
    g2 += tmp
    tmp = np.multiply(-0.5, s2, out=b2)  # g1 = g1 (-0.5 s2 s)
    tmp *= s
    g1 *= tmp
    return s2


def _converged(
    rel: np.ndarray,
    f: np.ndarray,
    tol: float,
    new: np.ndarray,
    s: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    """Where the step converged; a step leaving the bracket [lo, hi] becomes a bisection
    (in `new`). Converged: the last step was below `tol` (relative), so what is left after
    it is of order step^2 (Newton) or step^3 (Halley); or the price is matched to the last
    bits (f is overwritten)."""
    done = rel <= tol
    done |= np.abs(f, out=f) <= 4e-16
    outside = ~np.isfinite(new)
    outside |= new < lo
    outside |= new > hi
    outside &= ~done
    if outside.any():
        bis = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * np.maximum(s, lo))
        np.copyto(new, bis, where=outside)
        done |= np.isfinite(hi) & (hi - lo <= 1e-15 * hi)
    return done
