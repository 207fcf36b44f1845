"""QuantLib as the independent reference for American prices (tests and bench only).

QuantLib is a development dependency (the service never imports this module): the tests
in tests/test_american.py and `python -m bench screener` both price through `american_price`
so they compare against the same thing. Conventions match `pricing`/`american`: flat
continuously compounded curves, Actual/365 Fixed, t = days / 365, exercise any day up to
the expiry.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Engine = Literal["binomial", "bjerksund_stensland"]


def american_price(
    is_call: np.ndarray,
    spot: np.ndarray,
    strike: np.ndarray,
    days: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    sigma: np.ndarray,
    *,
    engine: Engine = "binomial",
    steps: int = 2000,
) -> np.ndarray:
    """American option prices from QuantLib, one contract at a time.

    `binomial`: `BinomialVanillaEngine` (Cox–Ross–Rubinstein, `steps` steps; the truth to
    about 1e-3 at 2,000 steps). `bjerksund_stensland`: QuantLib's
    `BjerksundStenslandApproximationEngine` (the flat-boundary approximation).
    """
    import QuantLib as ql

    today = ql.Date(17, 6, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    s_q, r_q, q_q, v_q = (ql.SimpleQuote(x) for x in (100.0, 0.0, 0.0, 0.2))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(s_q),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(q_q), dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(r_q), dc)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(v_q), dc)
        ),
    )
    if engine == "binomial":
        pricing_engine = ql.BinomialVanillaEngine(process, "crr", steps)
    else:
        pricing_engine = ql.BjerksundStenslandApproximationEngine(process)
    arrays = np.broadcast_arrays(is_call, spot, strike, days, r, q, sigma)
    out = np.empty(arrays[0].shape, dtype=float)
    for i, (c, s, k, d, rr, qq, v) in enumerate(zip(*(a.ravel() for a in arrays), strict=True)):
        s_q.setValue(float(s))
        r_q.setValue(float(rr))
        q_q.setValue(float(qq))
        v_q.setValue(float(v))
        option = ql.VanillaOption(
            ql.PlainVanillaPayoff(ql.Option.Call if c else ql.Option.Put, float(k)),
            ql.AmericanExercise(today, today + int(d)),
        )
        option.setPricingEngine(pricing_engine)
        out.flat[i] = option.NPV()
    return out
