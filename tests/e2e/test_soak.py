"""A minute of the soak (`bench.soak` runs ten): the wheel traded through the web on a tws-sim
whose clock runs three simulated weeks a minute, with the worker scanning and emailing.

What must hold afterwards: no error line in any process's log, every email the web decided to
send received once by Resend (and nothing else), and the web's ledger equal to tws-sim's account
(executions, positions, cash, premium per symbol, shares in open cycles, order states).
"""

from __future__ import annotations

import pytest
from wheeldesk_testing import soak

# serial: the trading it checks happens in simulated time paced by this machine's CPU.
pytestmark = [pytest.mark.slow, pytest.mark.serial]

SPEED = 3 * soak.WEEK_SECONDS / 60  # three simulated weeks in the minute


@pytest.mark.timeout(900)
def test_a_sped_up_market_leaves_clean_logs_emails_sent_once_and_the_ledger_equal_to_ibkr() -> None:
    result = soak.run(60.0, speed=SPEED)
    summary = soak.dump(result)
    assert result.problems() == [], summary
    # The run did exercise the wheel and the worker, or the invariants above prove nothing.
    assert result.orders["filled"] >= 1, summary
    assert sum(result.settlements.values()) >= 1, summary
    assert result.scans >= 1, summary
    assert result.expected["order_filled"] == result.orders["filled"], summary
    assert result.sent == sum(result.expected.values()) >= 1, summary
    assert result.executions >= 2, summary
    names = {"nats", "tws-sim", "gateway-bridge", "screener", "notifier", "web", "worker"}
    assert set(result.rss_start) == names and set(result.rss_end) == names, summary
    assert all(v > 0 for v in [*result.rss_start.values(), *result.rss_end.values()]), summary
