"""How long IB takes to answer: per-request delays for `--latency realistic`.

Real IB Gateway answers an option snapshot in one to two seconds (it waits for the model
computations), contract details in a few hundred milliseconds, and historical data quickly
until a burst has used its allowance, then about one request every ~0.25 s ("soft throttling":
IB delays rather than rejects small daily-bar requests). The draws come from a generator
seeded with --seed, so a run repeats; `off` (the default) answers at once, as unit tests want.
"""

from __future__ import annotations

import math
import time

import numpy as np

MODES = ("off", "realistic")

# kind -> (median seconds, lognormal sigma, floor, cap)
DELAYS: dict[str, tuple[float, float, float, float]] = {
    "option_snapshot": (1.3, 0.3, 0.6, 3.0),
    "stock_snapshot": (0.25, 0.4, 0.05, 1.0),
    "contract_details": (0.3, 0.4, 0.08, 1.2),
    "option_chain": (0.8, 0.35, 0.3, 2.5),  # contract details matching many options
    "secdef_params": (0.25, 0.35, 0.08, 1.0),
    "historical": (0.35, 0.35, 0.1, 1.5),
    "small": (0.06, 0.4, 0.01, 0.3),  # market rules, head timestamps
}
HISTORY_BURST = 20  # historical requests answered without throttling ...
HISTORY_RATE = 4.0  # ... then this many a second


class LatencyModel:
    def __init__(self, seed: int, mode: str = "off") -> None:
        if mode not in MODES:
            raise ValueError(f"latency must be one of {', '.join(MODES)}")
        self.mode = mode
        self._rng = np.random.default_rng([seed, 0x1A7])
        self._hist_tokens = float(HISTORY_BURST)
        self._hist_refill = time.monotonic()

    @property
    def on(self) -> bool:
        return self.mode == "realistic"

    def delay(self, kind: str) -> float:
        """Seconds to wait before answering a request of `kind` (0 when off)."""
        if not self.on:
            return 0.0
        median, sigma, floor, cap = DELAYS[kind]
        d = median * math.exp(sigma * float(self._rng.standard_normal()))
        d = min(max(d, floor), cap)
        if kind == "historical":
            d += self._history_wait()
        return d

    def _history_wait(self) -> float:
        """The soft throttle: a token bucket whose debt is a queue; past the burst, answers
        leave at HISTORY_RATE a second."""
        now = time.monotonic()
        elapsed = now - self._hist_refill
        self._hist_refill = now
        self._hist_tokens = min(float(HISTORY_BURST), self._hist_tokens + elapsed * HISTORY_RATE)
        self._hist_tokens -= 1.0
        return max(0.0, -self._hist_tokens) / HISTORY_RATE

    def describe(self) -> dict:
        return {
            "mode": self.mode,
            "medians_s": {k: v[0] for k, v in DELAYS.items()},
            "history_burst": HISTORY_BURST,
            "history_rate_per_s": HISTORY_RATE,
        }
