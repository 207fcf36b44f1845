"""Pages and forms of web (1 of 2) through the Django test client, with no other service running.

Services that are down are simply not listening: the pages must show a clear state, never a 500.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from web_factories import make_signal
from wheeldesk.schemas.market import Fundamentals, OptionContract
from wheeldesk.schemas.screener import Criteria, Rejection, ScanResult
from wheeldesk.schemas.screener import Signal as SignalSchema
from wheeldesk_testing.moments import SIM_START
from wheeldesk_testing.procs import free_port
from wheeldesk_web.config import SETTINGS
from wheeldesk_web.core import status
from wheeldesk_web.preferences.models import CRITERIA_FIELDS, UserConfig
from wheeldesk_web.signals.models import ScanRun, Signal
from wheeldesk_web.signals.services import store_result
from wheeldesk_web.watchlist.models import WatchlistItem
from wheeldesk_web.watchlist.services import WatchlistError, default_watchlist, normalise_symbol

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def services_down(monkeypatch):
    """Point every service URL at a port nobody listens on."""
    for name in ("bridge_url", "screener_url", "notifier_url"):
        monkeypatch.setattr(SETTINGS, name, f"http://127.0.0.1:{free_port()}")
    cache.clear()
    status.forget()
    yield
    cache.clear()
    status.forget()


@pytest.fixture
def user():
    return get_user_model().objects.create_user("trader", "t@example.com", "s3cret-pass-123")


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def scan(user):
    run = ScanRun.objects.create(user=user, symbols=["KO", "PEP", "RIVN", "T"])
    result = ScanResult(
        scan_id="s-1",
        criteria=Criteria(),
        symbols=["KO", "PEP", "RIVN", "T"],
        signals=[
            make_signal("KO", 14.0, "B"),
            make_signal("PEP", 22.5, "A"),
            make_signal("T", 9.0, "C", reasons=['=HYPERLINK("http://evil")']),
        ],
        rejections=[
            Rejection(symbol="RIVN", rule="positive_fcf", message="free cash flow is negative"),
        ],
    )
    return store_result(run, result, 123.0)


def test_user_config_mirrors_every_screener_criterion_with_its_default(user) -> None:
    config = UserConfig.for_user(user)
    defaults = Criteria()
    for name in CRITERIA_FIELDS:
        assert getattr(config, name) == getattr(defaults, name), name
    assert config.criteria() == defaults


def test_settings_page_groups_fields_and_rejects_an_inverted_dte_window(client_in, user) -> None:
    page = client_in.get("/settings/")
    body = page.content.decode()
    for group in (
        "Fundamentals",
        "Option filters",
        "Roll and close",
        "Notifications",
        "Scan schedule",
    ):
        assert group in body
    assert "Default: 45." in body  # dte_max's default, shown next to the field
    data = {
        name: value
        for name, value in page.context["form"].initial.items()
        if value is not None and name not in ("id", "user")
    }
    data.update(dte_min=50, dte_max=10)
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    response = client_in.post("/settings/", data)
    assert response.status_code == 400
    assert "Minimum DTE must not exceed maximum DTE" in response.content.decode()
    assert UserConfig.objects.get(user=user).dte_max == 45


def test_dashboard_shows_the_banner_not_an_error_when_the_bridge_is_down(client_in) -> None:
    response = client_in.get("/dashboard/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "IBKR disconnected" in body
    assert "Screener down" in body and "Notifier down" in body
    assert "No account data yet" in body


def test_symbols_are_normalised_and_bad_ones_refused() -> None:
    assert normalise_symbol("  ko \n") == "KO"
    assert normalise_symbol("brk.b") == "BRK.B"
    for bad in ("", "   ", "K O", "<script>", "1ABC", "TOOLONGSYMBOL"):
        with pytest.raises(WatchlistError):
            normalise_symbol(bad)


def test_adding_while_the_bridge_is_down_is_refused_with_a_message(client_in, user) -> None:
    watchlist = default_watchlist(user)
    response = client_in.post(f"/watchlist/{watchlist.pk}/add/", {"symbol": " ko ", "notes": ""})
    assert response.status_code == 400
    assert "IBKR is not reachable" in response.content.decode()
    assert not WatchlistItem.objects.exists()


def test_ten_thousand_character_notes_are_refused(client_in, user) -> None:
    watchlist = default_watchlist(user)
    item = WatchlistItem.objects.create(watchlist=watchlist, symbol="KO", notes="fine")
    response = client_in.post(
        f"/watchlist/{watchlist.pk}/items/{item.pk}/notes/", {"notes": "x" * 10_000}, follow=True
    )
    assert "not saved" in response.content.decode()
    item.refresh_from_db()
    assert item.notes == "fine"
    response = client_in.post(
        f"/watchlist/{watchlist.pk}/add/", {"symbol": "PEP", "notes": "x" * 10_000}
    )
    assert response.status_code == 400
    assert "at most 2000 characters" in response.content.decode()


def test_script_tags_in_notes_are_rendered_inert(client_in, user) -> None:
    watchlist = default_watchlist(user)
    WatchlistItem.objects.create(
        watchlist=watchlist, symbol="KO", notes="<script>alert('x')</script>"
    )
    body = client_in.get("/watchlist/").content.decode()
    assert "<script>alert(" not in body
    assert "&lt;script&gt;alert(" in body


def test_signals_sort_by_apy_filter_by_tier_and_show_why_not(client_in, scan) -> None:
    body = client_in.get("/signals/?sort=-apy").content.decode()
    order = [body.index(f'data-symbol="{s}" data-tier') for s in ("PEP", "KO", "T")]
    assert order == sorted(order)
    body = client_in.get("/signals/?sort=apy").content.decode()
    assert body.index('data-symbol="T" data-tier') < body.index('data-symbol="PEP" data-tier')
    only_a = client_in.get("/signals/?tier=A").content.decode()
    assert 'data-symbol="PEP" data-tier' in only_a and 'data-symbol="KO" data-tier' not in only_a
    assert "free cash flow is negative" in body and 'data-symbol="RIVN"' in body
    assert "PEP: APY 22.5% at 0.20 delta" in body
    bad = client_in.get("/signals/?apy_min=lots")
    assert bad.status_code == 400 and "APY % (simple) min: enter a number" in bad.content.decode()
    for junk in ("dte_min=1e999", "dte_max=-inf", "apy_min=nan"):
        bad = client_in.get(f"/signals/?{junk}")
        label = {"dte": "DTE", "apy": "APY % (simple)"}[junk.split("_")[0]]
        bound = junk.split("_")[1].split("=")[0]
        assert bad.status_code == 400, junk
        assert f"{label} {bound}: enter a number" in bad.content.decode(), junk
        assert client_in.get(f"/signals/export.csv?{junk}").status_code < 500, junk


def test_csv_export_keeps_the_filters_and_neutralises_formulas(client_in, scan) -> None:
    response = client_in.get("/signals/export.csv?sort=-apy")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["symbol"] for r in rows] == ["PEP", "KO", "T"]
    assert rows[0]["apy"] == "22.5"
    assert rows[2]["reasons"].startswith("'=HYPERLINK")


def test_scan_now_with_the_screener_down_fails_cleanly(client_in, user) -> None:
    WatchlistItem.objects.create(watchlist=default_watchlist(user), symbol="KO")
    from wheeldesk_web.signals.services import create_scan, execute_scan

    run = execute_scan(create_scan(user))
    assert run.status == ScanRun.FAILED
    assert run.error.startswith("IBKR disconnected")
    assert not Signal.objects.exists()


def test_commands_stop_with_one_line_when_a_service_is_down(user) -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=r"^gateway-bridge not ready: "):
        call_command("sync_ibkr")
    with pytest.raises(CommandError, match=r"^screener not ready: "):
        call_command("scan")


def test_sync_ibkr_process_exits_nonzero_with_one_line(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    manage = Path(__file__).resolve().parents[1] / "manage.py"
    env = {
        **os.environ,
        "BRIDGE_URL": f"http://127.0.0.1:{free_port()}",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DATA_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, str(manage), "sync_ibkr"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CommandError: gateway-bridge not ready")


def test_password_reset_sends_a_link_and_the_pages_render(client, user, mailoutbox) -> None:
    assert client.get("/accounts/password_reset/").status_code == 200
    response = client.post("/accounts/password_reset/", {"email": "t@example.com"})
    assert response.status_code == 302 and response["Location"].endswith("/done/")
    assert len(mailoutbox) == 1 and "/accounts/reset/" in mailoutbox[0].body
    assert "Check your email" in client.get(response["Location"]).content.decode()


def test_login_page_shows_an_error_for_a_wrong_password(client, user) -> None:
    response = client.post("/accounts/login/", {"username": "trader", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_every_model_is_in_the_admin_and_its_pages_render(client, scan) -> None:
    from django.apps import apps
    from django.contrib import admin

    admin_user = get_user_model().objects.create_superuser("boss", "b@example.com", "pw-123456789")
    client.force_login(admin_user)
    ours = [c for c in apps.get_app_configs() if c.name.startswith("wheeldesk_web.")]
    assert len(ours) >= 10, [c.label for c in ours]
    for config in ours:
        for model in config.get_models():
            assert admin.site.is_registered(model), model
            url = f"/admin/{config.label}/{model._meta.model_name}/"
            assert client.get(url).status_code == 200, url
            assert client.get(url + "?q=KO").status_code == 200, url


def test_signal_detail_names_the_earnings_date_before_expiry(client_in, user) -> None:
    run = ScanRun.objects.create(user=user, symbols=["CSCO"])
    earnings = SIM_START.date() + timedelta(days=12)
    flagged = make_signal(
        "CSCO",
        20.0,
        "B",
        earnings_before_expiry=True,
        fundamentals=Fundamentals(next_earnings=earnings),
        reasons=[f"earnings on {earnings:%Y-%m-%d} come before this expiry"],
    )
    result = ScanResult(
        scan_id="s-e", criteria=Criteria(), symbols=["CSCO"], signals=[flagged], rejections=[]
    )
    store_result(run, result, 12.0)
    signal = Signal.objects.get(symbol="CSCO")
    body = client_in.get(f"/signals/{signal.pk}/").content.decode()
    assert f"Earnings are due on {earnings:%Y-%m-%d}, before this expiry." in body
    assert f"earnings on {earnings:%Y-%m-%d} come before this expiry" in body


def test_chain_with_an_expiry_not_listed_says_which_one_it_shows(client_in, user) -> None:
    """A typed, stale or junk `?expiry=` is not silently swapped for another expiry."""
    from wheeldesk_web.market.models import Option

    listed = SIM_START.date() + timedelta(days=30)
    for right in ("P", "C"):
        Option.objects.create(symbol="KO", expiry=listed, strike=60.0, right=right, bid=1.0)
    shown = f"{listed:%b} {listed.day}, {listed.year}"
    for raw in ("2020-13-45", "1999-01-01", "<script>x</script>"):
        page = client_in.get("/stocks/KO/chain/table/", {"expiry": raw})
        assert page.status_code == 200, raw
        body = page.content.decode()
        assert 'id="chain-notice"' in body and f": showing {shown}." in body, raw
        assert "<script>x" not in body
    exact = client_in.get("/stocks/KO/chain/table/", {"expiry": listed.isoformat()})
    assert 'id="chain-notice"' not in exact.content.decode()
    assert 'id="chain-notice"' not in client_in.get("/stocks/KO/chain/table/").content.decode()


def test_iv_filter_takes_percent_like_the_column(client_in, user) -> None:
    """The IV % column shows 35.0%: typing 30 in its filter means 30 %, not 3,000 %."""
    run = ScanRun.objects.create(user=user, symbols=["KO", "PEP"])
    result = ScanResult(
        scan_id="s-iv",
        criteria=Criteria(),
        symbols=["KO", "PEP"],
        signals=[make_signal("KO", 14.0, "B", iv=0.35), make_signal("PEP", 12.0, "B", iv=0.28)],
        rejections=[],
    )
    store_result(run, result, 1.0)
    body = client_in.get("/signals/").content.decode()
    assert "35.0%" in body and "28.0%" in body
    body = client_in.get("/signals/?iv_min=30").content.decode()
    assert 'data-symbol="KO" data-tier' in body and 'data-symbol="PEP" data-tier' not in body
    body = client_in.get("/signals/?iv_max=30").content.decode()
    assert 'data-symbol="PEP" data-tier' in body and 'data-symbol="KO" data-tier' not in body


def _stored(user, signal: SignalSchema) -> Signal:  # type: ignore[no-untyped-def]
    run = ScanRun.objects.create(user=user, symbols=[signal.symbol])
    result = ScanResult(
        scan_id=f"s-{signal.kind}", criteria=Criteria(), symbols=[signal.symbol],
        signals=[signal], rejections=[],
    )  # fmt: skip
    store_result(run, result, 1.0)
    return Signal.objects.get(scan=run)


def test_close_signal_page_shows_a_buy_back_not_a_sale(client_in, user) -> None:
    # Buy back the 50 put sold at 1.20 for the ask 0.50, 20 DTE:
    # captured (1.20 - 0.50) / 1.20 = 58.3 %; still to earn 0.50 / 20 = 0.025 a share a day.
    close = make_signal(
        "KO", 0.0, "B", kind="CLOSE", premium_basis="ask", premium=0.50, yield_pct=None,
        breakeven=None, contract=OptionContract(
            symbol="KO", expiry=SIM_START.date() + timedelta(days=20), strike=50.0, right="P"
        ), bid=0.45, ask=0.50, net_credit=-0.50, captured_pct=58.3, premium_received=1.20,
        cost_to_close=0.50, close_basis="ask", remaining_per_day=0.025, score=58.33, dte=20,
        reasons=["58% of the premium captured (target 50%)"],
    )  # fmt: skip
    close.apy = None  # a buy-back has no APY
    signal = _stored(user, close)
    body = client_in.get(f"/signals/{signal.pk}/").content.decode()
    assert "Cost to close (ask)" in body and "$0.50 a share · $50.00 a contract" in body
    assert 'id="captured">58.3%' in body
    assert "$0.0250 a share a day ($2.50 a contract a day)" in body
    assert "Yield / APY" not in body and 'id="payoff-chart"' not in body
    assert "max profit" not in body and "Buy to close" in body
    assert "P(OTM) if held (short put: N(d2))" in body
    table = client_in.get("/signals/").content.decode()
    assert "cost to close (ask) $0.50" in table and "58% captured" in table


def test_roll_signal_page_shows_the_position_after_the_roll(client_in, user) -> None:
    # Sold the 50 put at 1.20, buy back at 1.80 (ask), sell the 49 put 30 days later at 2.50:
    # net credit 0.70; position breakeven 49 - (1.20 + 0.70) = 47.10; APY 17.38 % simple on
    # the net credit over the 30 days added.
    old = OptionContract(
        symbol="KO", expiry=SIM_START.date() + timedelta(days=5), strike=50.0, right="P"
    )
    roll = make_signal(
        "KO", 17.38, "B", kind="ROLL", premium=2.50, yield_pct=1.4286, apy_compounded=18.84,
        breakeven=47.10, prob_profit=70.0, pop=60.0, net_credit=0.70, roll_from=old,
        premium_received=1.20, cost_to_close=1.80, close_basis="ask", added_days=30,
        captured_pct=-50.0, underlying_price=49.0, dte=35, contract=OptionContract(
            symbol="KO", expiry=SIM_START.date() + timedelta(days=35), strike=49.0, right="P"
        ),
    )  # fmt: skip
    signal = _stored(user, roll)
    body = client_in.get(f"/signals/{signal.pk}/").content.decode()
    assert f"buy back KO {old.expiry.isoformat()} 50P at $1.80 (ask)" in body
    assert 'id="net-credit">$0.70 a share · $70.00 a contract' in body
    assert "1.43% / 17.4% simple · 18.8% compounded (over the days added)" in body
    assert 'id="breakeven">$47.10' in body
    # the payoff is the position's: credits 49 - 47.10 = 1.90 a share, breakeven 47.10
    assert 'id="payoff-breakeven-value">47.10' in body
    assert "credits received (first sale + roll's net credit) $1.90/share" in body


def test_sale_pages_name_p_otm_and_p_profit_and_the_basis(client_in, user) -> None:
    put = _stored(user, make_signal("KO", 29.2, "B", prob_profit=85.0, apy_compounded=33.45))
    body = client_in.get(f"/signals/{put.pk}/").content.decode()
    assert "P(OTM) (short put: N(d2))" in body and 'id="p-otm">80.0%' in body
    assert 'id="p-profit">85.0%' in body
    assert "29.2% simple · 33.5% compounded" in body
    call = make_signal(
        "PEP", 20.0, "B", kind="CC", cost_basis=48.80, cost_basis_source="ledger",
        ib_avg_cost=50.0, contract=OptionContract(
            symbol="PEP", expiry=SIM_START.date() + timedelta(days=30), strike=49.5, right="C"
        ),
        skipped=["ROE unknown: no fundamentals from IB (tick 258 not subscribed or not "
                 "answered) — rule skipped"],
    )  # fmt: skip
    body = client_in.get(f"/signals/{_stored(user, call).pk}/").content.decode()
    assert "P(OTM) (short call: N(−d2))" in body and "N(d2))" not in body
    assert "$48.80 (ledger, premiums deducted) · IB average cost $50.00" in body
    assert "ROE unknown: no fundamentals from IB (tick 258 not subscribed or not answered)" in body


def test_scan_request_carries_the_ledger_basis_of_shares_held(user) -> None:
    from decimal import Decimal

    from wheeldesk_web.ledger.models import WheelCycle
    from wheeldesk_web.signals.services import ledger_cost_basis

    def cycle(key: str, symbol: str, shares: int, basis: str | None, **kw) -> None:  # type: ignore[no-untyped-def]
        zero = Decimal(0)
        WheelCycle.objects.create(
            key=key, symbol=symbol, start=SIM_START, state=kw.pop("state", "shares"),
            state_label="Holding shares", premium=zero, put_premium=zero, call_premium=zero,
            dividends=zero, fees=zero, shares=Decimal(shares), shares_acquired=Decimal(shares),
            capital=zero, adjusted_cost_basis=None if basis is None else Decimal(basis), **kw,
        )  # fmt: skip

    cycle("ko-1", "KO", 100, "48.80")
    cycle("ko-2", "KO", 100, "47.10")  # two lots: (48.80 + 47.10) / 2 = 47.95
    cycle("pep-1", "PEP", 100, None, basis_unknown=True)  # the ledger cannot vouch: left out
    cycle("t-1", "T", 100, "20.00", state="closed")  # closed: not held
    assert ledger_cost_basis() == {"KO": 47.95}
