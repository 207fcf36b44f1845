"""Issue 20's small items, each pinned by what a user sees: one strike format, scan progress
naming each symbol, the favicon, human field errors, Post/Redirect/Get, time fields without
seconds, optional notes, stable cycle URLs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.utils import timezone
from wheeldesk.schemas.screener import ScanJob, ScanResult
from wheeldesk_testing.moments import SIM_START
from wheeldesk_web.signals import services as signal_services
from wheeldesk_web.signals.models import ScanRun, Signal

pytestmark = pytest.mark.django_db

EXPIRY = SIM_START.date() + timedelta(days=30)


@pytest.fixture
def user_client(client):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("trader", "t@example.com", "pw-123456-xyz")
    client.force_login(user)
    client.user = user
    return client


def test_one_strike_format_everywhere() -> None:
    """217.5P and 405P, never 217.50P: the filter every template uses."""
    render = Template(
        "{% load wheeldesk %}{{ a|strike:'P' }} {{ b|strike:'P' }} {{ c|strike }} {{ d|strike }}"
    )
    out = render.render(Context({"a": 217.5, "b": 405.0, "c": "61.25", "d": None}))
    assert out == "217.5P 405P 61.25 —"


def test_the_signals_table_writes_strikes_like_the_emails(user_client) -> None:  # type: ignore[no-untyped-def]
    scan = ScanRun.objects.create(user=user_client.user, status=ScanRun.DONE, symbols=["MSFT"])
    for strike in (217.5, 405.0):
        Signal.objects.create(
            scan=scan,
            kind="CSP",
            symbol="MSFT",
            expiry=EXPIRY,
            strike=strike,
            right="P",
            premium=3.75,
            collateral=strike * 100,
            dte=30,
            distance_pct=5.0,
            underlying_price=420.0,
            score=60.0,
            tier="B",
            reasons=["r"],
        )
    body = user_client.get("/signals/").content.decode()
    assert ">217.5P<" in body and ">405P<" in body
    assert "217.50P" not in body and "405.00P" not in body


def test_scan_progress_names_each_symbol_as_it_finishes(monkeypatch, bridge) -> None:  # type: ignore[no-untyped-def]
    """The screener's job reports symbols_done/last_symbol; the ScanRun row (which the page
    polls every second) says "Scanning 2/3 symbols: PEP done" while the scan runs."""
    seen: list[str] = []

    class Screener:
        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def scan(self, request, *, poll_seconds: float = 1.0, on_progress=None):  # type: ignore[no-untyped-def]
            assert on_progress is not None  # the web asks for a job it can follow
            for done, symbol in enumerate(request.symbols, start=1):
                on_progress(
                    ScanJob(
                        scan_id="s1",
                        status="running",
                        symbols_total=len(request.symbols),
                        symbols_done=done,
                        last_symbol=symbol,
                    )
                )
                seen.append(ScanRun.objects.get(pk=run.pk).progress)
            return ScanResult(
                scan_id="s1", criteria=request.criteria, symbols=request.symbols, signals=[],
                rejections=[],
            )  # fmt: skip

    monkeypatch.setattr("wheeldesk_web.core.clients.screener", lambda timeout=180.0: Screener())
    monkeypatch.setattr(type(bridge), "positions", lambda self: [])
    run = ScanRun.objects.create(symbols=["KO", "PEP", "T"])
    signal_services.execute_scan(run)
    run.refresh_from_db()
    assert run.status == ScanRun.DONE, run.error
    assert seen == [
        "Scanning 1/3 symbols: KO done",
        "Scanning 2/3 symbols: PEP done",
        "Scanning 3/3 symbols: T done",
    ]


def test_every_page_names_its_favicon(user_client) -> None:  # type: ignore[no-untyped-def]
    """No /favicon.ico 404 in the console: the layout links an SVG icon that is served."""
    body = user_client.get("/signals/").content.decode()
    assert '<link rel="icon" href="/static/wheeldesk/favicon.svg"' in body
    login = user_client.get("/accounts/login/").content.decode()
    assert 'rel="icon"' in login


def test_settings_errors_read_in_the_form_s_words(user_client) -> None:  # type: ignore[no-untyped-def]
    """Not "dte_min must be <= dte_max": the labels the user sees on the form."""
    from wheeldesk_web.preferences.forms import UserConfigForm
    from wheeldesk_web.preferences.models import UserConfig

    config = UserConfig.for_user(user_client.user)
    data = {k: v for k, v in UserConfigForm(instance=config).initial.items() if v is not None}
    data.update(dte_min=50, dte_max=10)
    response = user_client.post("/settings/", data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Minimum DTE must not exceed maximum DTE" in body
    assert "dte_min must be" not in body
    # the refused form keeps the settings page's own address (a reload does not re-post)
    assert '<meta name="page-url" content="/settings/">' in body


def test_a_refused_watchlist_add_keeps_the_list_s_address(user_client) -> None:  # type: ignore[no-untyped-def]
    """Post/Redirect/Get: the 400 page answering /watchlist/1/add/ tells the browser to show
    /watchlist/?list=1, so a reload GETs the list instead of posting the form again."""
    from wheeldesk_web.watchlist.services import default_watchlist

    watchlist = default_watchlist(user_client.user)
    response = user_client.post(f"/watchlist/{watchlist.pk}/add/", {"symbol": "1BAD", "notes": ""})
    assert response.status_code == 400
    body = response.content.decode()
    assert f'<meta name="page-url" content="/watchlist/?list={watchlist.pk}">' in body
    assert '<meta name="page-url"' not in user_client.get("/watchlist/").content.decode()


def test_a_manual_adjustment_takes_a_time_without_seconds_and_no_note(user_client) -> None:  # type: ignore[no-untyped-def]
    from wheeldesk_web.ledger.models import Adjustment

    page = user_client.get("/ledger/").content.decode()
    field = page[page.index('name="time"') - 200 : page.index('name="time"') + 200]
    assert 'step="60"' in field
    value = field.split('value="')[1].split('"')[0]
    assert len(value) == len("2026-06-17T10:30"), value  # minutes: the picker accepts any
    response = user_client.post(
        "/ledger/adjust/",
        {"kind": "dividend", "symbol": "KO", "time": "2026-06-17T10:30", "amount": "48.50",
         "quantity": "0", "price": "0", "note": ""},
    )  # fmt: skip
    assert response.status_code == 302
    adj = Adjustment.objects.get(symbol="KO")
    assert adj.note == "" and float(adj.amount) == 48.50
    local = timezone.localtime(adj.time)  # typed in the exchange's time zone (New York)
    assert (local.hour, local.minute, local.second) == (10, 30, 0)


K1_K2 = b"""<FlexQueryResponse><FlexStatements><FlexStatement><Trades>
<Trade assetCategory="OPT" underlyingSymbol="KO" symbol="KO 260116P00060000" putCall="P"
 strike="60" expiry="20260116" multiplier="100" dateTime="20251217;100000" quantity="-1"
 tradePrice="1.20" ibCommission="-1.05" buySell="SELL" ibExecID="k1"/>
<Trade assetCategory="OPT" underlyingSymbol="KO" symbol="KO 260116P00060000" putCall="P"
 strike="60" expiry="20260116" multiplier="100" dateTime="20260116;162000" quantity="1"
 tradePrice="0" buySell="BUY" notes="A" ibExecID="k2"/>
</Trades></FlexStatement></FlexStatements></FlexQueryResponse>"""
K3 = b"""<FlexQueryResponse><FlexStatements><FlexStatement><Trades>
<Trade assetCategory="STK" symbol="KO" dateTime="20260116;162000" quantity="100"
 tradePrice="60" buySell="BUY" notes="A" ibExecID="k3"/>
</Trades></FlexStatement></FlexStatements></FlexQueryResponse>"""


def test_an_old_cycle_link_still_opens_the_cycle_after_history_is_rebuilt(user_client) -> None:  # type: ignore[no-untyped-def]
    """The shares came first (their cycle is keyed by k3); the put sale that led to them is
    imported later, the cycle now starts at k1 and its key changes: the old link redirects."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from wheeldesk_web.ledger.models import WheelCycle

    def upload(data: bytes) -> None:
        user_client.post("/ledger/import/", {"file": SimpleUploadedFile("t.xml", data, "text/xml")})

    upload(K3)
    old = WheelCycle.objects.get(symbol="KO").key
    assert old.endswith("-k3")
    upload(K1_K2)
    new = WheelCycle.objects.get(symbol="KO").key
    assert new != old and new.endswith("-k1")
    moved = user_client.get(f"/ledger/cycles/{old}/")
    assert moved.status_code == 301 and moved["Location"] == f"/ledger/cycles/{new}/"
    page = user_client.get(moved["Location"]).content.decode()
    assert "Sold 1 × 60P 2026-01-16 @ 1.20" in page and "Assigned 100 shares @ 60.00" in page
    assert user_client.get("/ledger/cycles/PEP-20260101100000-zz/").status_code == 404
    assert user_client.get("/ledger/cycles/nonsense/").status_code == 404


@pytest.mark.django_db(transaction=False)
async def test_the_live_hub_opens_one_nats_connection_however_many_streams_start(
    nats_server, caplog
) -> None:  # type: ignore[no-untyped-def]
    """Every SSE client calls hub.start(): one connection (one "nats connected" line), not one
    per page view."""
    import asyncio
    import logging

    from wheeldesk_web.live.hub import Hub

    hub = Hub(nats_server.url)
    with caplog.at_level(logging.INFO, logger="wheeldesk.natsconn"):
        for _ in range(5):
            hub.start()
            await asyncio.sleep(0.3)
        first = hub._nc
        for _ in range(5):
            hub.start()
            await asyncio.sleep(0.05)
    try:
        assert first is not None and first.is_connected and hub._nc is first
        connected = [r for r in caplog.records if r.getMessage() == "nats connected"]
        assert len(connected) == 1
    finally:
        await first.close()


def test_make_run_logs_carry_one_clock(capsys) -> None:  # type: ignore[no-untyped-def]
    """`make run` stamps each line with the time and the process (scripts/run.py sets
    LOG_FORMAT=console): the service's own line then carries no second timestamp."""
    import logging
    import re

    from wheeldesk.logs import setup_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        setup_logging("notifier", "INFO", "console")
        logging.getLogger("notifier.delivery").warning("email fetch failed: %s", "TimeoutError")
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert line == "WARNING notifier.delivery: email fetch failed: TimeoutError"
    assert not re.search(r"\d{2}:\d{2}:\d{2}", line)


def test_a_refused_discover_form_keeps_the_discover_address(user_client) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post("/discover/run/", {"idea": "no-such-idea"})
    assert response.status_code == 400
    assert '<meta name="page-url" content="/discover/">' in response.content.decode()


def test_the_payoff_labels_sit_on_their_own_rows_and_stay_inside_the_chart() -> None:
    """Strike, breakeven and "now" are often a few dollars apart: each label gets its own row
    (no overlap on the desktop); the phone chart is drawn at its own width with larger text."""
    import re

    from wheeldesk_web.signals.payoff import Payoff, payoff_svg

    p = Payoff(right="P", strike=222.5, premium=1.6, spot=223.4)
    for svg, width in ((payoff_svg(p), 640), (payoff_svg(p, 360, 240, 13, "-phone"), 360)):
        labels = re.findall(
            r'<text x="([\d.]+)" y="([\d.]+)" text-anchor="(\w+)" font-size="(\d+)"[^>]*>'
            r"(strike|breakeven|now) ",
            svg,
        )
        assert len(labels) == 3
        assert len({y for _, y, _, _, _ in labels}) == 3  # one row each
        for x, _, anchor, _size, _ in labels:
            assert 0 < float(x) < width and (anchor == "start" or float(x) > 40)
    phone = payoff_svg(p, 360, 240, 13, "-phone")
    assert 'id="payoff-chart-phone"' in phone and 'font-size="13"' in phone
