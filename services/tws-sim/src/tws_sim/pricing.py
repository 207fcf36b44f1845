"""Black–Scholes–Merton with a continuous dividend yield: the simulator's own market model.

The screener owns Wheeldesk's pricing maths; this copy exists so tws-sim can fabricate a
self-consistent option market (quotes, model greeks) without importing across services.
Greeks follow IB's conventions: vega per 1 vol point (0.01), theta per calendar day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / SQRT2))


def norm_pdf(x: float) -> float:
    return INV_SQRT_2PI * math.exp(-0.5 * x * x)


@dataclass(frozen=True, slots=True)
class Greeks:
    price: float
    delta: float
    gamma: float
    vega: float
    theta: float


def bs(right: str, s: float, k: float, t: float, r: float, q: float, vol: float) -> Greeks:
    """Price and greeks of a European option; t in years, right 'C' or 'P'."""
    if t <= 0 or vol <= 0:
        intrinsic = max(0.0, s - k) if right == "C" else max(0.0, k - s)
        itm = 1.0 if intrinsic > 0 else 0.0
        return Greeks(intrinsic, itm if right == "C" else -itm, 0.0, 0.0, 0.0)
    st = math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * vol * vol) * t) / (vol * st)
    d2 = d1 - vol * st
    dq = math.exp(-q * t)
    dr = math.exp(-r * t)
    pdf = norm_pdf(d1)
    gamma = dq * pdf / (s * vol * st)
    vega = s * dq * pdf * st / 100.0
    if right == "C":
        nd1, nd2 = norm_cdf(d1), norm_cdf(d2)
        price = s * dq * nd1 - k * dr * nd2
        delta = dq * nd1
        theta = -s * dq * pdf * vol / (2 * st) - r * k * dr * nd2 + q * s * dq * nd1
    else:
        nmd1, nmd2 = norm_cdf(-d1), norm_cdf(-d2)
        price = k * dr * nmd2 - s * dq * nmd1
        delta = -dq * nmd1
        theta = -s * dq * pdf * vol / (2 * st) + r * k * dr * nmd2 - q * s * dq * nmd1
    return Greeks(price, delta, gamma, vega, theta / 365.0)


def skewed_vol(base_vol: float, s: float, k: float, t: float) -> float:
    """A put skew with a smile: IV rises below the money and, less, far above it."""
    t = max(t, 1.0 / 365.0)
    x = math.log(k / s) / (base_vol * math.sqrt(t))
    x = max(-4.0, min(4.0, x))
    term = 1.0 + 0.04 * (0.25 - min(t, 1.0))
    return max(0.05, base_vol * term * (1.0 - 0.07 * x + 0.018 * x * x))
