"""Flex Query import: a report the test writes → the cycles it describes, hand-computed."""

from decimal import Decimal as D

import pytest
from web_factories import flex_option as option
from web_factories import flex_report
from web_factories import flex_trade as row
from wheeldesk_web.ledger.flex import FlexError, parse_flex
from wheeldesk_web.ledger.models import Execution, WheelCycle
from wheeldesk_web.ledger.services import import_flex, premium_collected_this_month

pytestmark = pytest.mark.django_db


def test_flex_import_builds_the_cycles_it_describes(tmp_path):
    rows = [
        # INTC: put sold 2.00, rolled (bought 0.50, sold 1.20), assigned at 30, two calls,
        # the second assigned at 32.
        option(
            "0001.01", "INTC", "20250303;100000", "-2", "2.00", "P", "30", "20250321", fee="-1.30"
        ),
        option(
            "0001.02", "INTC", "20250320;150000", "2", "0.50", "P", "30", "20250321", fee="-1.30"
        ),
        option(
            "0001.03", "INTC", "20250320;150100", "-2", "1.20", "P", "30", "20250417", fee="-1.30"
        ),
        option("0001.04", "INTC", "20250417;162000", "2", "0", "P", "30", "20250417", notes="A"),
        row("0001.05", "STK", "INTC", "20250417;162000", "200", "30", notes="A"),
        option(
            "0001.06", "INTC", "20250422;100000", "-2", "0.75", "C", "31", "20250516", fee="-1.30"
        ),
        option("0001.07", "INTC", "20250516;162000", "2", "0", "C", "31", "20250516", notes="Ep"),
        option(
            "0001.08", "INTC", "20250519;100000", "-2", "0.40", "C", "32", "20250620", fee="-1.30"
        ),
        option("0001.09", "INTC", "20250620;162000", "2", "0", "C", "32", "20250620", notes="A"),
        row("0001.10", "STK", "INTC", "20250620;162000", "-200", "32", notes="A"),
        # F: one put, expired worthless.
        option("0002.01", "F", "20250602;110000", "-5", "0.20", "P", "10", "20250620", fee="-3.25"),
        option("0002.02", "F", "20250620;162000", "5", "0", "P", "10", "20250620", notes="Ep"),
    ]
    path = tmp_path / "trades.xml"
    path.write_bytes(flex_report(rows))

    assert import_flex(path.read_bytes()) == (12, 12)
    assert import_flex(path.read_bytes()) == (12, 0)  # importing twice adds nothing
    assert Execution.objects.filter(source="flex").count() == 12

    intc = WheelCycle.objects.get(symbol="INTC")
    # net premium = 2×100×(2.00 − 0.50 + 1.20) + 2×100×(0.75 + 0.40) = 540 + 230 = 770
    assert intc.premium == D("770")
    # adjusted cost basis = 30 − 770 / 200 shares = 26.15
    assert intc.adjusted_cost_basis == D("26.15")
    assert intc.fees == D("6.50")  # 5 × 1.30
    # P&L = 770 + 200 × (32 − 30) − 6.50 = 1,163.50
    assert intc.realised_pnl == D("1163.50")
    assert intc.state == "closed" and intc.outcome == "called_away" and intc.rolls == 1

    f = WheelCycle.objects.get(symbol="F")
    # 5 × 100 × 0.20 = 100 premium, 3.25 fees → 96.75
    assert (f.premium, f.realised_pnl, f.outcome) == (D("100"), D("96.75"), "expired")
    assert f.adjusted_cost_basis is None


def test_flex_refuses_entities_and_foreign_files():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
        b"<FlexQueryResponse>&b;</FlexQueryResponse>"
    )
    with pytest.raises(FlexError, match="refused"):
        parse_flex(bomb)
    with pytest.raises(FlexError, match="not a Flex"):
        parse_flex(b"<html><body/></html>")
    with pytest.raises(FlexError, match="well-formed"):
        parse_flex(b"<FlexQueryResponse><Trades>")
    with pytest.raises(FlexError, match=r"row 1: .*not a number"):
        parse_flex(flex_report([row("9", "STK", "KO", "20250101;100000", "abc", "1")]))
    assert Execution.objects.count() == 0


def test_premium_this_month_for_the_dashboard():
    from datetime import date

    rows = [
        row(
            "0003.01",
            "OPT",
            "KO",
            "20250602;110000",
            "-1",
            "1.10",
            pc="P",
            strike="60",
            exp="20250620",
        ),
        row(
            "0003.02",
            "OPT",
            "KO",
            "20250529;110000",
            "-1",
            "9.99",
            pc="P",
            strike="60",
            exp="20250620",
        ),
    ]
    import_flex(flex_report(rows))
    assert premium_collected_this_month(date(2025, 6, 15)) == D("110")
