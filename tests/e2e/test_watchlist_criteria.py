"""A watchlist's own criteria on the whole stack: `manage.py scan` of a user whose default
list narrows the DTE window and the delta band (screener → bridge → tws-sim, real chains);
every put or call it proposes lies inside the list's window and band, not the Settings'."""

from __future__ import annotations

import json

import pytest
from wheeldesk_testing.stack import Stack

pytestmark = pytest.mark.slow

USER = "narrow"
OWN = {"dte_min": 20, "dte_max": 40, "delta_min": 0.24, "delta_max": 0.30}

SETUP = f"""
from django.contrib.auth import get_user_model
from wheeldesk_web.watchlist.models import Watchlist, WatchlistItem
u, _ = get_user_model().objects.get_or_create(username={USER!r})
w, _ = Watchlist.objects.get_or_create(user=u, name="Narrow", defaults={{"is_default": True}})
w.criteria = {OWN!r}
w.save()
for s in ("PEP", "JNJ", "MSFT"):
    WatchlistItem.objects.get_or_create(watchlist=w, symbol=s)
"""

RESULT = f"""
import json
from wheeldesk_web.signals.models import ScanRun
run = ScanRun.objects.filter(user__username={USER!r}).latest("id")
rows = [
    {{"kind": s.kind, "symbol": s.symbol, "dte": s.dte, "abs_delta": s.abs_delta}}
    for s in run.signals.filter(kind__in=("CSP", "CC"))
]
print(json.dumps({{"criteria": run.criteria, "status": run.status, "signals": rows}}))
"""


def test_a_scan_of_a_list_uses_its_own_window_and_band(stack: Stack) -> None:
    stack.manage("shell", "-c", SETUP)
    stack.manage("scan", "--user", USER)  # no --symbols: the user's default list
    out = stack.manage("shell", "-c", RESULT).stdout.strip().splitlines()[-1]
    result = json.loads(out)
    assert result["status"] == "done"
    used = result["criteria"]
    # the list's own values, the rest the Settings' defaults
    assert {k: used[k] for k in OWN} == OWN
    assert used["min_apy"] == 10.0 and used["max_spread_pct"] == 10.0
    signals = result["signals"]
    assert signals, "the demo market should offer puts inside the list's band"
    for s in signals:
        assert OWN["dte_min"] <= s["dte"] <= OWN["dte_max"], s
        assert OWN["delta_min"] <= s["abs_delta"] <= OWN["delta_max"], s
