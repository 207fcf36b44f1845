"""Settings' "Email new signals" and "Tiers to email": one digest per scan, new signals only.

A trader turned on "Email new signals" (every tier) and got nothing: the worker only read
saved scans, and only tier A. These pin what the settings promise.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from web_factories import new_signal, stock_fill
from wheeldesk.schemas.email import EmailRequest
from wheeldesk_testing.moments import SIM_START
from wheeldesk_web.alerts import emails
from wheeldesk_web.alerts.models import EmailedSignal, SavedScan
from wheeldesk_web.preferences.models import UserConfig
from wheeldesk_web.signals.models import ScanRun

pytestmark = pytest.mark.django_db
EXPIRY = SIM_START.date() + timedelta(days=30)


def scan(user, rows: list[tuple[str, str, float, str]]) -> ScanRun:  # type: ignore[no-untyped-def]
    """A finished scan of `user` with (kind, symbol, strike, tier) signals."""
    run = ScanRun.objects.create(user=user, status=ScanRun.DONE, trigger="schedule", symbols=[])
    for i, (kind, symbol, strike, tier) in enumerate(rows):
        new_signal(run, kind=kind, symbol=symbol, strike=strike, tier=tier, score=90.0 - 10 * i)
    return run


def rows_of(n) -> list[tuple[str, str, float]]:  # type: ignore[no-untyped-def]
    request = EmailRequest.model_validate(n.request)
    return [(r["kind"], r["symbol"], r["strike"]) for r in request.context["signals"]]


@pytest.fixture
def trader():  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("t", "t@example.com", "pw-123456-xyz")
    config = UserConfig.for_user(user)
    config.notify_email, config.notify_min_tier = True, "B"  # "A and B"
    config.save()
    return user


TODAY = [
    ("CSP", "KO", 60.0, "A"),
    ("CSP", "PEP", 140.0, "B"),
    ("CC", "MSFT", 450.0, "C"),
]


def test_email_new_signals_sends_one_digest_at_the_chosen_tiers(trader) -> None:
    scan(trader, TODAY)
    [n] = emails.queue_signal_digests()
    request = EmailRequest.model_validate(n.request)
    assert request.to == ["t@example.com"] and request.template == "signal_digest"
    assert request.context["scan_name"] == "New signals"
    assert rows_of(n) == [("CSP", "KO", 60.0), ("CSP", "PEP", 140.0)]  # tier C left out
    # The same scan again, or a new scan finding the same contracts: nothing new to send.
    assert emails.queue_signal_digests() == []
    scan(trader, TODAY)
    assert emails.queue_signal_digests() == []
    # A later scan with one new B signal: a digest of that one only.
    scan(trader, [*TODAY, ("CSP", "JNJ", 150.0, "B")])
    [later] = emails.queue_signal_digests()
    assert rows_of(later) == [("CSP", "JNJ", 150.0)]
    assert EmailedSignal.objects.filter(user=trader).count() == 3


@pytest.mark.parametrize(
    ("tier", "expected"),
    [("A", ["KO"]), ("B", ["KO", "PEP"]), ("C", ["KO", "PEP", "MSFT"])],
)
def test_tiers_to_email(trader, tier: str, expected: list[str]) -> None:
    UserConfig.objects.filter(user=trader).update(notify_min_tier=tier)
    scan(trader, TODAY)
    [n] = emails.queue_signal_digests()
    assert [symbol for _, symbol, _ in rows_of(n)] == expected


def test_nothing_is_emailed_with_the_setting_off(trader) -> None:
    UserConfig.objects.filter(user=trader).update(notify_email=False)
    scan(trader, TODAY)
    assert emails.queue_signal_digests() == []


def test_another_users_scan_is_not_emailed_to_me(trader) -> None:
    other = get_user_model().objects.create_user("o", "o@example.com", "pw-123456-xyz")
    scan(other, TODAY)
    assert emails.queue_signal_digests() == []


def test_a_saved_scan_and_new_signals_never_email_a_signal_twice(trader) -> None:
    SavedScan.objects.create(user=trader, name="Dividend puts", kinds="CSP", min_apy=15)
    scan(trader, TODAY)
    # The saved scan's digest takes both puts; tier C's MSFT call is below "A and B": no
    # second digest with nothing new in it.
    [saved] = emails.queue_signal_digests()
    assert EmailRequest.model_validate(saved.request).context["scan_name"] == "Dividend puts"
    assert rows_of(saved) == [("CSP", "KO", 60.0), ("CSP", "PEP", 140.0)]


def test_saved_scan_takes_its_kinds_and_the_rest_goes_to_new_signals(trader) -> None:
    UserConfig.objects.filter(user=trader).update(notify_min_tier="C")
    SavedScan.objects.create(user=trader, name="Dividend puts", kinds="CSP", min_apy=15)
    scan(trader, TODAY)
    saved, general = emails.queue_signal_digests()
    assert EmailRequest.model_validate(saved.request).context["scan_name"] == "Dividend puts"
    assert rows_of(saved) == [("CSP", "KO", 60.0), ("CSP", "PEP", 140.0)]
    assert EmailRequest.model_validate(general.request).context["scan_name"] == "New signals"
    assert rows_of(general) == [("CC", "MSFT", 450.0)]
    assert emails.queue_signal_digests() == []


def test_settings_and_alerts_show_the_same_schedule(trader, client) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    UserConfig.objects.filter(user=trader).update(scan_enabled=True, scan_times="09:45,15:30")
    client.force_login(trader)
    want = [
        "Scheduled scans at 09:45 and 15:30 New York time on market days.",
        "New signals (tiers A and B) are emailed once each, one digest per scan.",
    ]
    for url in (reverse("alerts:index"), reverse("preferences:settings")):
        page = client.get(url).content.decode()
        assert all(sentence in page for sentence in want), url
        assert "every 15 minutes" not in page
    UserConfig.objects.filter(user=trader).update(scan_enabled=False, notify_email=False)
    page = client.get(reverse("alerts:index")).content.decode()
    assert "Scheduled scans are off: scans run when you start them." in page
    assert "Email new signals is off; saved scans with email on send tiers A and B." in page


def test_reset_to_defaults_keeps_the_email_address(trader, client) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    UserConfig.objects.filter(user=trader).update(notify_address="me@example.com", min_apy=40)
    client.force_login(trader)
    assert client.post(reverse("preferences:reset")).status_code == 302
    config = UserConfig.objects.get(user=trader)
    assert config.notify_address == "me@example.com"
    assert config.min_apy == UserConfig._meta.get_field("min_apy").default


def test_the_demo_user_gets_the_morning_routine_only_when_asked() -> None:
    from django.core.management import call_command

    call_command("ensure_demo_user", "plain", "pw-123456-xyz")
    assert not UserConfig.for_user(get_user_model().objects.get(username="plain")).scan_enabled
    call_command("ensure_demo_user", "demo", "pw-123456-xyz", "--routine")
    config = UserConfig.for_user(get_user_model().objects.get(username="demo"))
    assert config.scan_enabled and config.notify_email and config.notify_min_tier == "B"
    assert config.scan_time_list()[0] == "09:45" and len(config.scan_time_list()) == 7


def test_a_poisoned_cycle_row_breaks_neither_the_fill_email_nor_the_scan() -> None:
    """A cycle stored before the sanity checks (a basis of 1e30) cannot be read back by
    Django: the fill email goes without its cycle and the scan without the ledger's basis,
    instead of failing for everyone."""
    from django.db import connection
    from wheeldesk_web.ledger.models import WheelCycle
    from wheeldesk_web.ledger.services import record_fills
    from wheeldesk_web.signals.services import ledger_cost_basis

    record_fills(
        [
            stock_fill("0000e001.00000002.01.01", commission=1.0)  # 100 KO at 60.00
        ],
        "nats",
    )
    # 100 KO bought at 60.00: the ledger's basis is 60.00 a share (commission booked as fees).
    assert emails.cycle_context("KO") is not None and ledger_cost_basis() == {"KO": 60.0}
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {WheelCycle._meta.db_table} SET adjusted_cost_basis = 1e30")
    assert emails.cycle_context("KO") is None
    assert ledger_cost_basis() == {}
