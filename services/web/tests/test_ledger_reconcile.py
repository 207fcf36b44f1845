"""Ledger ↔ account: reconciliation after a sync, opening lots from IB's average cost, unknown
basis on the pages, days counted on the broker's clock, bad stored rows shown as invalid.

Dates are literals; the broker's "today" is injected (monkeypatched `broker_today`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from web_factories import option_fill, option_position, stock_position
from wheeldesk.schemas.orders import Fill
from wheeldesk_web.ledger import services
from wheeldesk_web.ledger.models import Adjustment, Execution, WheelCycle
from wheeldesk_web.ledger.services import (
    import_flex,
    ledger_differences,
    record_fills,
    sync_positions,
)

pytestmark = pytest.mark.django_db
SYNC = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)  # the harness's pinned sim start
ACCOUNT = "DU1234567"


@pytest.fixture
def user_client(client):
    user = get_user_model().objects.create_user("rec", "r@example.com", "pw-123456-xyz")
    client.force_login(user)
    return client


def ko_call(exec_id: str, **kw) -> Fill:
    """A KO 62 call sold at 1.00 (no commission reported)."""
    call = {
        "account_id": ACCOUNT,
        "time": datetime(2026, 6, 18, 14, tzinfo=UTC),
        "expiry": date(2026, 7, 17),
        "strike": 62.0,
        "right": "C",
        "price": 1.00,
        "commission": None,
        "order_id": 5,
    }
    return option_fill(exec_id, **{**call, **kw})


def ko_call_called_away(first: int) -> list[Fill]:
    """The KO 62 call sold, then called away at its expiry: IB's two assignment legs, the call
    bought back at 0 and 100 shares sold at 62 (exec ids `first` to `first + 2`)."""
    expiry_close = {"time": datetime(2026, 7, 17, 20, 30, tzinfo=UTC), "order_id": None}
    return [
        ko_call(f"0000e001.{first:08d}.01.01"),
        ko_call(
            f"0000e001.{first + 1:08d}.01.01",
            side="BOT",
            price=0.0,
            kind="assignment",
            **expiry_close,
        ),
        ko_call(
            f"0000e001.{first + 2:08d}.01.01",
            sec_type="STK",
            expiry=None,
            strike=None,
            right=None,
            multiplier=1,
            quantity=100,
            price=62.0,
            kind="assignment",
            **expiry_close,
        ),
    ]


def test_first_sync_gives_pre_history_positions_an_opening_lot_at_ib_average_cost():
    positions = [
        stock_position("KO", 100, account_id=ACCOUNT),
        # a short put held before the history: IB's avg cost is per contract (2.40 × 100)
        option_position(
            "AAPL", -1, account_id=ACCOUNT, avg_cost=240.0, expiry=date(2026, 7, 17), strike=210.0
        ),
    ]  # fmt: skip
    lots = sync_positions(positions, SYNC)
    assert sorted((a.kind, a.symbol, a.quantity, a.price, a.from_broker) for a in lots) == [
        ("lot", "KO", D(100), D("60"), True),
        ("option", "AAPL", D(1), D("2.4"), True),
    ]
    assert ledger_differences() == []  # the lots make the ledger match the account
    assert sync_positions(positions, SYNC) == []  # only at the first sync
    # Then the KO call is sold and called away: basis 60 − 1.00 = 59.00;
    # P&L = 100 + 100 × 62 − 100 × 60 = 300 — known, thanks to the opening lot.
    record_fills(ko_call_called_away(first=1), "nats")
    ko = WheelCycle.objects.get(symbol="KO")
    assert (ko.outcome, ko.adjusted_cost_basis, ko.realised_pnl) == (
        "called_away",
        D("59"),
        D("300"),
    )
    assert not ko.basis_unknown


def test_flex_adding_shares_the_account_does_not_hold_is_shown(user_client):
    # The account holds nothing; a Flex file buys 100 PEP. Ledger 100, account 0.
    sync_positions([], SYNC)
    flex = (
        b"<FlexQueryResponse><FlexStatements><FlexStatement><Trades>"
        b'<Trade accountId="DU1234567" assetCategory="STK" symbol="PEP" dateTime="20260601;100000"'
        b' quantity="100" tradePrice="150" buySell="BUY" ibExecID="0000e001.00000009.01.01"/>'
        b"</Trades></FlexStatement></FlexStatements></FlexQueryResponse>"
    )
    assert import_flex(flex) == (1, 1)
    [d] = ledger_differences()
    assert d.message == "ledger: 100 PEP · account: 0 — import history or add an adjustment"
    page = user_client.get("/ledger/").content.decode()
    assert 'id="ledger-reconciliation"' in page
    assert "ledger: 100 PEP · account: 0 — import history or add an adjustment" in page
    dash = user_client.get("/dashboard/")
    assert dash.status_code == 200
    assert "ledger: 100 PEP · account: 0" in dash.content.decode()


def test_unknown_basis_links_to_the_opening_lot_form(user_client):
    # A covered call on shares the ledger never saw bought, called away: no +5,200 profit.
    record_fills(ko_call_called_away(first=11), "nats")
    c = WheelCycle.objects.get(symbol="KO")
    assert c.basis_unknown and c.realised_pnl is None and c.adjusted_cost_basis is None
    page = user_client.get("/ledger/?symbol=KO").content.decode()
    assert "unknown — add the opening lot" in page and 'href="?symbol=KO#adj-h"' in page
    assert "5,200" not in page and "5200" not in page
    # adding the lot (100 @ 60, before the call) makes it known: 100 + 6,200 − 6,000 = 300
    r = user_client.post(
        "/ledger/adjust/",
        {
            "kind": "lot",
            "symbol": "KO",
            "time": "2026-06-01T10:00",
            "quantity": "100",
            "price": "60",
            "amount": "0",
            "note": "bought in 2024",
        },
    )
    assert r.status_code == 302
    c = WheelCycle.objects.get(symbol="KO")
    assert (c.basis_unknown, c.realised_pnl) == (False, D("300"))


def test_manual_adjustment_adds_an_existing_short_option(user_client):
    r = user_client.post(
        "/ledger/adjust/",
        {
            "kind": "option",
            "symbol": "AAPL",
            "time": "2026-06-01T10:00",
            "quantity": "1",
            "price": "2.40",
            "amount": "0",
            "right": "P",
            "strike": "210",
            "expiry": "2026-07-17",
            "note": "sold before Wheeldesk",
        },
    )
    assert r.status_code == 302
    c = WheelCycle.objects.get(symbol="AAPL")
    # 1 × 2.40 × 100 = 240 premium, short put open
    assert (c.state, c.premium) == ("short_put", D("240"))
    # refused without the contract: field errors named
    r = user_client.post(
        "/ledger/adjust/",
        {"kind": "option", "symbol": "AAPL", "time": "2026-06-01T10:00", "quantity": "1",
         "price": "2.40", "amount": "0", "note": "x"},
        follow=True,
    )  # fmt: skip
    text = r.content.decode()
    assert "strike" in text and "expiry" in text and Adjustment.objects.count() == 1


def test_open_cycle_days_count_on_the_broker_clock(user_client, monkeypatch):
    # Short put sold 2026-06-01; the broker's today 2026-06-21 → 20 days (not frozen at 1).
    record_fills(
        [
            ko_call(
                "0000e001.00000021.01.01",
                time=datetime(2026, 6, 1, 14, tzinfo=UTC),
                right="P",
                strike=60.0,
            )
        ],
        "nats",
    )
    monkeypatch.setattr("wheeldesk_web.ledger.views.broker_today", lambda: date(2026, 6, 21))
    page = user_client.get("/ledger/").content.decode()
    assert '<td class="text-right cycle-days">20</td>' in page
    [row] = services.cycles_in_progress(date(2026, 6, 21))
    assert row.days_now == 20


def test_a_poisoned_stored_row_is_shown_invalid_and_pages_stay_200(user_client):
    # Issue 17.1: a multiplier of 1e15 stored before the checks existed made /ledger/ and
    # /dashboard/ answer 500 for everyone. Simulate such a row written behind Django's back.
    record_fills([ko_call("0000e001.00000031.01.01", right="P", strike=60.0)], "nats")
    ex = Execution.objects.get()
    with connection.cursor() as cur:
        table = Execution._meta.db_table
        cur.execute(f"UPDATE {table} SET multiplier = 1000000000000000 WHERE id = %s", [ex.pk])
        wc = WheelCycle._meta.db_table
        cur.execute(f"UPDATE {wc} SET premium = 1e30")
    dash = user_client.get("/dashboard/")
    assert dash.status_code == 200
    assert "2 invalid stored ledger row(s), not counted" in dash.content.decode()
    r = user_client.get("/ledger/")
    assert r.status_code == 200
    page = r.content.decode()
    assert 'id="ledger-invalid"' in page and "multiplier 1000000000000000" in page
    assert "cycle #" in page


def test_adjustment_form_refuses_absurd_numbers(user_client):
    # Issue 17.1 for forms: a lot of 1e15 shares or a year-1 date is a field error, not a row.
    r = user_client.post(
        "/ledger/adjust/",
        {
            "kind": "lot",
            "symbol": "KO",
            "time": "0001-01-01T10:00",
            "quantity": "1000000000000",
            "price": "60",
            "amount": "0",
            "note": "typo",
        },
        follow=True,
    )
    page = r.content.decode()
    assert r.status_code == 200 and "Adjustment not saved" in page
    assert "quantity" in page and "time" in page
    assert Adjustment.objects.count() == 0 and WheelCycle.objects.count() == 0


def test_an_opening_lot_steps_aside_when_the_history_arrives():
    # First sync: 100 KO held, no history → opening lot at IB's 60.00.
    ko = stock_position("KO", 100, account_id=ACCOUNT)
    [lot] = sync_positions([ko], SYNC)
    # Then Flex brings the real purchase (100 @ 55 in May): the lot would double the shares
    # (ledger 200 vs account 100), so it is removed; the cycle's basis is the real 55.00.
    flex = (
        b"<FlexQueryResponse><FlexStatements><FlexStatement><Trades>"
        b'<Trade accountId="DU1234567" assetCategory="STK" symbol="KO" dateTime="20260504;100000"'
        b' quantity="100" tradePrice="55" buySell="BUY" ibExecID="0000e001.00000041.01.01"/>'
        b"</Trades></FlexStatement></FlexStatements></FlexQueryResponse>"
    )
    assert import_flex(flex) == (1, 1)
    assert not Adjustment.objects.filter(pk=lot.pk).exists()
    assert ledger_differences() == []
    c = WheelCycle.objects.get(symbol="KO")
    assert (c.shares, c.assignment_price) == (D(100), D("55"))
    # a lot entered by hand is never removed
    Adjustment.objects.create(
        kind="lot", symbol="KO", time=SYNC, quantity=100, price=50, note="mine"
    )
    import_flex(flex)
    assert Adjustment.objects.filter(note="mine").exists()
    assert [d.message for d in ledger_differences()] == [
        "ledger: 200 KO · account: 100 — import history or add an adjustment"
    ]
