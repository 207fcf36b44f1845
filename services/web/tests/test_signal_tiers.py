"""How far a signal is from the next tier, as the screener said it, on the signals table, the
signal's page and the CSV (the rule and its hand-worked numbers: screener/tests/test_tiers.py).

The numbers are the screener's hand-worked case: KO 95 put, 30 DTE, bid 0.85, APY 10.89 %,
P(OTM) 75.08 %, spread 5.71 %, 1,000 open, 10 fundamentals points -> score 48.03, tier B,
1.97 points below A at 50.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from web_factories import make_signal
from wheeldesk.schemas.market import OptionContract
from wheeldesk.schemas.screener import Criteria, ScanResult
from wheeldesk.schemas.screener import Signal as SignalSchema
from wheeldesk_testing.moments import SIM_START
from wheeldesk_web.signals.models import ScanRun, Signal
from wheeldesk_web.signals.services import store_result

pytestmark = pytest.mark.django_db

NOTE = (
    "A at 50: +2.0 points; +2.3 % APY (to 13.2 %) or P(OTM) +3.0 points (to 78.1 %) "
    "or a spread of 3.7 % or less would do it"
)


def _signal(symbol: str, strike: float, score: float, tier: str, **gap) -> SignalSchema:
    """The screener's hand-worked KO 95 put (see above), at `strike`, with its score and tier."""
    return make_signal(
        symbol,
        10.89,
        tier,
        contract=OptionContract(
            symbol=symbol, expiry=SIM_START.date() + timedelta(days=30), strike=strike, right="P"
        ),
        premium=0.85,
        collateral=strike * 100,
        yield_pct=0.8947,
        pop=75.08,
        abs_delta=0.25,
        breakeven=strike - 0.85,
        expected_move=7.19,
        spread_pct=5.71,
        open_interest=1000.0,
        volume=100.0,
        iv=0.25,
        iv_rank=None,
        underlying_price=100.0,
        score=score,
        reasons=["Sell the put"],
        **gap,
    )


@pytest.fixture
def client_in(client):
    user = get_user_model().objects.create_user("tiers", "t@example.com", "s3cret-pass-123")
    client.force_login(user)
    run = ScanRun.objects.create(user=user, symbols=["KO", "PEP"])
    store_result(
        run,
        ScanResult(
            scan_id="tiers-1",
            criteria=Criteria(),
            symbols=["KO", "PEP"],
            signals=[
                _signal(
                    "KO",
                    95.0,
                    48.03,
                    "B",
                    next_tier="A",
                    points_to_next_tier=1.97,
                    next_tier_note=NOTE,
                ),
                _signal("PEP", 150.0, 52.85, "A"),
            ],
            rejections=[],
        ),
    )
    return client


def test_the_gap_to_the_next_tier_is_on_the_row_the_page_and_the_csv(client_in) -> None:
    ko = Signal.objects.get(symbol="KO")
    assert (ko.next_tier, ko.points_to_next_tier, ko.next_tier_note) == ("A", 1.97, NOTE)
    table = client_in.get("/signals/").content.decode()
    row = table[table.index('data-symbol="KO"') :]
    row = row[: row.index("</tr>")]
    # the row: "+2.0 to A" under the tier, the whole sentence on hover
    assert 'data-cell="next-tier"' in row and "+2.0 to A" in row and f'title="{NOTE}"' in row
    pep = table[table.index('data-symbol="PEP"') :]
    assert 'data-cell="next-tier"' not in pep[: pep.index("</tr>")]  # A: nothing above it
    page = client_in.get(f"/signals/{ko.pk}/").content.decode()
    assert f'id="next-tier">Next tier: {NOTE}</p>' in page
    top = client_in.get(f"/signals/{Signal.objects.get(symbol='PEP').pk}/").content.decode()
    assert 'id="next-tier">Tier A: the top tier.</p>' in top
    response = client_in.get("/signals/export.csv")
    rows = {
        r["symbol"]: r
        for r in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    }
    assert rows["KO"]["next_tier"] == "A" and rows["KO"]["points_to_next_tier"] == "1.97"
    assert rows["KO"]["next_tier_note"] == NOTE
    assert rows["PEP"]["next_tier"] == "" and rows["PEP"]["next_tier_note"] == ""
