"""A watchlist's own criteria on the whole stack: `manage.py scan` of a user whose default
list narrows the DTE window and the delta band (screener → bridge → tws-sim, real chains);
every put or call it proposes lies inside the list's window and band, not the Settings'."""

from __future__ import annotations

import pytest
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.web_state import WebState

pytestmark = pytest.mark.slow

USER = "narrow"
OWN = {"dte_min": 20, "dte_max": 40, "delta_min": 0.24, "delta_max": 0.30}


def test_a_scan_of_a_list_uses_its_own_window_and_band(stack: Stack) -> None:
    web = WebState(stack)
    web.default_watchlist_with(USER, "Narrow", ["PEP", "JNJ", "MSFT"], OWN)
    stack.manage("scan", "--user", USER)  # no --symbols: the user's default list
    result = web.latest_scan(USER)
    assert result["status"] == "done"
    used = result["criteria"]
    # the list's own values, the rest the Settings' defaults
    assert {k: used[k] for k in OWN} == OWN
    assert used["min_apy"] == 10.0 and used["max_spread_pct"] == 10.0
    signals = [s for s in result["signals"] if s["kind"] in ("CSP", "CC")]
    assert signals, "the demo market should offer puts inside the list's band"
    for s in signals:
        assert OWN["dte_min"] <= s["dte"] <= OWN["dte_max"], s
        assert OWN["delta_min"] <= s["abs_delta"] <= OWN["delta_max"], s
