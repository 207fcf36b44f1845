"""Ledger pages and the payoff diagram, through Django's test client."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from web_factories import flex_option, flex_report, flex_trade
from wheeldesk_web.ledger.models import Adjustment, WheelCycle
from wheeldesk_web.signals.payoff import Payoff, payoff_svg

pytestmark = pytest.mark.django_db

# KO 60 put sold at 1.20 (1.05 fees), assigned at expiry: 100 shares bought at 60.
FLEX = flex_report(
    [
        flex_option(
            "k1", "KO", "20251217;100000", "-1", "1.20", "P", "60", "20260116", fee="-1.05"
        ),
        flex_option("k2", "KO", "20260116;162000", "1", "0", "P", "60", "20260116", notes="A"),
        flex_trade("k3", "STK", "KO", "20260116;162000", "100", "60", notes="A"),
    ]
)


@pytest.fixture
def user_client(client):
    user = get_user_model().objects.create_user("led", "l@example.com", "pw-123456-xyz")
    client.force_login(user)
    return client


def test_upload_filter_timeline_and_dividend(user_client):
    r = user_client.post(
        reverse("ledger:import"),
        {"file": SimpleUploadedFile("t.xml", FLEX, "text/xml")},
        follow=True,
    )
    page = r.content.decode()
    assert "Imported 3 new trade(s) of 3" in page
    # basis = 60 − 120 / 100 = 58.80
    assert 'data-symbol="KO" data-state="shares"' in page and "$58.80" in page
    assert "premium-chart" in page and 'data-month="2025-12" data-value="120.00"' in page
    assert (
        "$58.80"
        not in user_client.get(reverse("ledger:cycles"), {"state": "closed"}).content.decode()
    )
    # a dividend of $50 lowers the basis to 60 − (120 + 50) / 100 = 58.30
    r = user_client.post(
        reverse("ledger:adjust"),
        {
            "kind": "dividend",
            "symbol": " ko ",
            "time": "2026-02-01T10:00",
            "quantity": "0",
            "price": "0",
            "amount": "50",
            "note": "Q1 dividend",
        },
        follow=True,
    )
    assert "$58.30" in r.content.decode()
    cycle = WheelCycle.objects.get(symbol="KO")
    timeline = user_client.get(reverse("ledger:cycle", args=[cycle.key])).content.decode()
    assert (
        "Sold 1 × 60P 2026-01-16 @ 1.20" in timeline and "Assigned 100 shares @ 60.00" in timeline
    )
    assert "Q1 dividend" in timeline


def test_bad_uploads_and_adjustments_store_nothing(user_client):
    r = user_client.post(
        reverse("ledger:import"),
        {"file": SimpleUploadedFile("t.xml", b"<nope/>", "text/xml")},
        follow=True,
    )
    assert "Import failed, nothing was stored: not a Flex Query report" in r.content.decode()
    r = user_client.post(
        reverse("ledger:adjust"),
        {
            "kind": "lot",
            "symbol": "<b>x</b>",
            "time": "2026-02-01T10:00",
            "quantity": "0",
            "price": "0",
            "amount": "0",
            "note": "n",
        },
        follow=True,
    )
    page = r.content.decode()
    assert "Adjustment not saved" in page and "<b>x</b>" not in page
    assert Adjustment.objects.count() == 0 and WheelCycle.objects.count() == 0


def test_payoff_at_expiry_numbers_and_marks():
    put = Payoff(right="P", strike=60, premium=1.10, spot=64)
    # breakeven 60 − 1.10 = 58.90; at 64: +110; at 50: (1.10 − 10) × 100 = −890
    assert put.breakeven == pytest.approx(58.90)
    assert put.pnl(64) == pytest.approx(110) and put.pnl(50) == pytest.approx(-890)
    call = Payoff(right="C", strike=70, premium=0.80, spot=64, basis=58.80)
    # covered call: breakeven 58.80 − 0.80 = 58.00; capped at (70 − 58.80 + 0.80) × 100 = 1,200
    assert call.breakeven == pytest.approx(58.0) and call.max_profit == pytest.approx(1200)
    svg = payoff_svg(put)
    assert 'id="payoff-strike"' in svg and "breakeven 58.90" in svg and "strike 60" in svg


def test_payoff_partial_renders_for_a_signal():
    from django.template import Context, Template

    signal = SimpleNamespace(
        pk=None,
        right="P",
        strike=60.0,
        premium=1.1,
        underlying_price=64.0,
        cost_basis=None,
        multiplier=100,
    )
    html = Template("{% load payoff %}{% payoff_diagram s %}").render(Context({"s": signal}))
    assert "Payoff at expiry" in html and "payoff-chart" in html and "58.90" in html


def test_dashboard_wheel_card_comes_from_the_ledger(user_client, settings):
    from wheeldesk_web.ledger.services import cycles_in_progress, import_flex

    import_flex(FLEX)
    [open_cycle] = cycles_in_progress()
    assert open_cycle.symbol == "KO" and open_cycle.state_label == "Holding shares"
    page = user_client.get(reverse("dashboard")).content.decode()
    assert 'id="wheel-summary"' in page and 'data-symbol="KO"' in page
    assert "basis $58.80" in page


def test_dashboard_wheel_card_is_cached_until_the_ledger_changes(user_client):
    from wheeldesk_web.ledger.services import import_flex, summary_version

    empty = user_client.get(reverse("dashboard")).content.decode()
    assert "No wheel cycle in progress." in empty
    before = summary_version()
    assert summary_version() == before  # nothing changed: the cached card is served
    import_flex(FLEX)  # fills stored, cycles rebuilt
    assert summary_version() != before
    page = user_client.get(reverse("dashboard")).content.decode()
    assert 'data-symbol="KO"' in page and "basis $58.80" in page
    assert "No wheel cycle in progress." not in page


def test_admin_lists_orders_audit_ledger_and_alerts(admin_client):
    from wheeldesk_web.ledger.services import import_flex
    from wheeldesk_web.orders.models import Order, OrderAudit

    import_flex(FLEX)
    order = Order.objects.create(
        symbol="KO",
        action="SELL",
        quantity=1,
        strike=60,
        right="P",
        expiry="2026-12-18",
        limit_price="1.10",
    )
    OrderAudit.objects.create(
        order=order,
        client_order_id=order.client_order_id,
        action="refused",
        detail="trading disabled",
    )
    for model in (
        "orders/order",
        "orders/orderaudit",
        "orders/tradingconfig",
        "ledger/execution",
        "ledger/wheelcycle",
        "ledger/adjustment",
        "alerts/savedscan",
        "alerts/notification",
        "alerts/emailedsignal",
    ):
        r = admin_client.get(f"/admin/{model}/")
        assert r.status_code == 200, model
    page = admin_client.get("/admin/orders/orderaudit/").content.decode()
    assert "trading disabled" in page and order.client_order_id in page
    assert admin_client.get("/admin/orders/orderaudit/add/").status_code == 403


def test_saved_scans_and_alert_preferences_page(user_client):
    from wheeldesk_web.alerts.models import AlertPreferences, SavedScan

    url = reverse("alerts:index")
    r = user_client.post(
        url, {"name": "Income", "kinds": "csp, cc", "min_apy": "15", "email": "on"}, follow=True
    )
    assert "Saved scan “Income” created" in r.content.decode()
    assert SavedScan.objects.get().kinds == "CSP,CC"
    r = user_client.post(url, {"name": "Income", "kinds": "CSP"}, follow=True)
    assert "already have a saved scan with this name" in r.content.decode()
    r = user_client.post(url, {"name": "Bad", "kinds": "<script>x</script>"}, follow=True)
    page = r.content.decode()
    assert "Use CSP, CC, ROLL or CLOSE" in page and "<script>x</script>" not in page
    assert SavedScan.objects.count() == 1
    user_client.post(
        url,
        {"save_prefs": "1", "disconnected": "on", "disconnected_minutes": "20", "expiry_days": "2"},
    )
    prefs = AlertPreferences.objects.get()
    assert (
        prefs.disconnected,
        prefs.disconnected_minutes,
        prefs.expiry_itm,
        prefs.expiry_days,
    ) == (True, 20, False, 2)
