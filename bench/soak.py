"""Soak: the whole stack for SOAK_SECONDS of wall time (default 600) on a sped-up tws-sim.

tws-sim's clock runs SOAK_SPEED times the wall (default a simulated week per minute), so about
ten weeks of market pass in the ten minutes: the wheel is traded through the web's order pages
(cash-secured puts near the money, covered calls once assigned), options expire, get assigned
and called away on their own, while the worker scans every 20 s and emails signal digests and
fills through the notifier to a fake Resend. Then every open option is settled, and the run
reports each process's memory at the start and the end, the error lines in every log, the emails
Resend received against those the web decided to send, and the web's ledger against tws-sim's
own account. `wheeldesk_testing.soak` holds the run; tests/e2e/test_soak.py runs a minute of it.
Timings on a shared machine are noisy; the invariants (targets 0 and "= expected") are not.
"""

from __future__ import annotations

from wheeldesk_testing import soak


def run() -> list[dict]:
    result = soak.run(**soak.from_env(600.0))
    print(soak.dump(result), flush=True)
    return result.rows()
