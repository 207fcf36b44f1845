"""The worker's schedule and once-only emails, with an injected clock.

The notifier here is a recording stand-in with the notifier's idempotency contract;
test_worker_email.py repeats the email assertions against the real notifier + fake Resend.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.contrib.auth import get_user_model
from web_factories import new_signal, option_fill, option_position, quote
from wheeldesk.clients import ServiceCallError
from wheeldesk.schemas.connection import ConnectionStatus
from wheeldesk.schemas.email import EmailAccepted, EmailRequest
from wheeldesk_web.alerts.models import EmailedSignal, Notification, SavedScan
from wheeldesk_web.core.schedule import EASTERN as NY
from wheeldesk_web.core.schedule import market_open, parse_every
from wheeldesk_web.signals.models import ScanRun, Signal
from wheeldesk_web.worker.loop import Worker

pytestmark = pytest.mark.django_db

SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
THANKSGIVING = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
MONDAY_OPEN = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 10:00 ET
MONDAY_EARLY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 ET, before the open


def store_scan(symbol: str = "KO", strike: float = 60.0, tier: str = "A") -> ScanRun:
    """What the `scan` command leaves behind: a done ScanRun and its signals."""
    run = ScanRun.objects.create(status=ScanRun.DONE, trigger="schedule", symbols=[symbol])
    new_signal(run, symbol=symbol, strike=strike, tier=tier)
    return run


class RecordingNotifier:
    def __init__(self) -> None:
        self.by_key: dict[str, EmailRequest] = {}
        self.calls = 0
        self.down = False

    def send(self, req: EmailRequest) -> EmailAccepted:
        self.calls += 1
        if self.down:
            raise ServiceCallError("notifier", None, "unreachable", "down")
        assert req.idempotency_key, "every alert carries an idempotency key"
        dup = req.idempotency_key in self.by_key
        self.by_key.setdefault(req.idempotency_key, req)
        return EmailAccepted(id=f"em-{len(self.by_key)}", duplicate=dup)


class QuietBridge:
    """Connected, no positions, no executions: nothing for the other alerts to say."""

    def status(self) -> ConnectionStatus:
        return ConnectionStatus(connected=True, state="connected")

    def positions(self) -> list:
        return []

    def executions(self, since=None) -> list:  # type: ignore[no-untyped-def]
        return []


@pytest.fixture
def saved_scan():
    user = get_user_model().objects.create_user("w", "wheel@example.com", "pw-123456-xyz")
    return SavedScan.objects.create(user=user, name="Dividend puts", kinds="CSP", min_apy=15)


def make_worker(notifier, calls):  # type: ignore[no-untyped-def]
    def scan() -> bool:
        calls.append("scan")
        store_scan()
        return True

    def sync() -> bool:
        calls.append("sync")
        return True

    return Worker(
        scan=scan, sync=sync, bridge_factory=QuietBridge, notifier_factory=lambda: notifier
    )


def test_market_hours_from_the_exchange_calendar():
    assert not market_open(SATURDAY)
    assert not market_open(THANKSGIVING)
    assert not market_open(MONDAY_EARLY)
    assert market_open(MONDAY_OPEN)
    assert parse_every("15m").total_seconds() == 900
    with pytest.raises(ValueError, match="interval"):
        parse_every("often")


def test_outside_market_hours_it_does_nothing(saved_scan):
    notifier, calls = RecordingNotifier(), []
    worker = make_worker(notifier, calls)
    for now in (SATURDAY, THANKSGIVING, MONDAY_EARLY):
        assert worker.tick(now) == []
    assert calls == [] and notifier.calls == 0 and Notification.objects.count() == 0
    # --ignore-hours forces it
    worker.ignore_hours = True
    assert "scan" in worker.tick(SATURDAY)


def test_same_new_signal_twice_is_emailed_once(saved_scan):
    notifier, calls = RecordingNotifier(), []
    worker = make_worker(notifier, calls)
    first = worker.tick(MONDAY_OPEN)
    assert first == ["sync", "scan", "digest", "emailed 1"]
    # 15 minutes later: the scan finds the same contract again
    second = worker.tick(MONDAY_OPEN.replace(minute=15))
    assert second == ["sync", "scan"]
    assert calls == ["sync", "scan", "sync", "scan"]
    assert len(notifier.by_key) == 1 and notifier.calls == 1
    [email] = notifier.by_key.values()
    assert email.to == ["wheel@example.com"]
    assert email.template == "signal_digest" and email.subject is None and email.html is None
    [row] = email.context["signals"]
    signal = EmailedSignal.objects.get().signal
    assert email.context["scan_name"] == "Dividend puts"
    assert row == {
        "id": signal.pk,
        "tier": "A",
        "kind": "CSP",
        "symbol": "KO",
        "right": "P",
        "strike": 60.0,
        "expiry": signal.expiry.isoformat(),
        "dte": 30,
        "premium": 1.10,
        "apy": 22.3,
        "pop": 82.0,
    }
    assert EmailedSignal.objects.count() == 1


def test_digest_context_renders_with_the_notifiers_signal_digest_template(saved_scan):
    """The contract with the notifier: its template renders the web's context in full
    (StrictUndefined: a missing key is an error) and every row is in the HTML and text."""
    render = pytest.importorskip("notifier.render")
    samples = pytest.importorskip("notifier.samples")
    from wheeldesk_web.alerts import emails

    run = store_scan()
    second = Signal.objects.get(scan=run)
    second.pk, second.symbol, second.strike, second.apy = None, "PEP", 140.0, 18.5
    second.save()
    Signal.objects.filter(scan=run, symbol="KO").update(
        quote_ts=datetime(2026, 11, 30, 15, 1, tzinfo=UTC)
    )

    [n] = emails.queue_signal_digests()
    request = EmailRequest.model_validate(n.request)
    assert request.template == "signal_digest"
    sample_row = samples.SAMPLES["signal_digest"]["signals"][0]
    assert all(set(row) == set(sample_row) for row in request.context["signals"])
    assert request.context["as_of"] == "2026-11-30T15:01:00+00:00"
    out = render.render(request.template, request.context, web_url="https://desk.example/")
    assert out.subject == "Wheeldesk: 2 new signals in Dividend puts"
    ids = {row["symbol"]: row["id"] for row in request.context["signals"]}
    for symbol, strike, apy in (("KO", "60", "22.3%"), ("PEP", "140", "18.5%")):
        link = f'href="https://desk.example/signals/{ids[symbol]}/"'
        assert f"{link} " in out.html and f"CSP {symbol} {strike}P</a>" in out.html
        assert apy in out.html and f"] CSP {symbol} {strike}P exp " in out.text


def test_jobs_wait_for_their_interval(saved_scan):
    notifier, calls = RecordingNotifier(), []
    worker = make_worker(notifier, calls)
    worker.tick(MONDAY_OPEN)
    worker.tick(MONDAY_OPEN.replace(minute=5))  # sync due (5m), scan not (15m)
    assert calls == ["sync", "scan", "sync"]


def test_pending_email_survives_a_notifier_outage(saved_scan):
    notifier, calls = RecordingNotifier(), []
    notifier.down = True
    worker = make_worker(notifier, calls)
    worker.tick(MONDAY_OPEN)
    assert Notification.objects.get().status == "pending"
    notifier.down = False
    assert worker.recover() == 1
    assert Notification.objects.get().status == "sent" and len(notifier.by_key) == 1


def test_signals_outside_the_saved_scan_are_not_emailed(saved_scan):
    saved_scan.min_apy = 30  # the stored signal has APY 22.3
    saved_scan.save()
    notifier, calls = RecordingNotifier(), []
    make_worker(notifier, calls).tick(MONDAY_OPEN)
    assert notifier.calls == 0


def test_disconnect_is_emailed_once_per_outage(saved_scan):
    from wheeldesk_web.alerts import emails

    class Down(QuietBridge):
        def status(self) -> ConnectionStatus:
            raise ServiceCallError("gateway-bridge", None, "unreachable", "not running")

    t0 = MONDAY_OPEN
    assert emails.check_connection(Down(), t0) == []  # outage starts
    assert emails.check_connection(Down(), t0.replace(minute=9)) == []  # 9 min < 10
    [n] = emails.check_connection(Down(), t0.replace(minute=11))
    assert "IBKR disconnected for 11 min" in n.request["subject"]
    assert emails.check_connection(Down(), t0.replace(minute=30)) == []  # same outage
    assert emails.check_connection(QuietBridge(), t0.replace(minute=31)) == []  # back
    assert emails.check_connection(Down(), t0.replace(minute=40)) == []  # a new outage...
    assert len(emails.check_connection(Down(), t0.replace(minute=55))) == 1  # ...emailed once


def test_short_option_near_expiry_and_itm_is_emailed_once(saved_scan):
    from wheeldesk.schemas.market import Quote
    from wheeldesk_web.alerts import emails

    today = date(2026, 11, 30)

    class Holding(QuietBridge):
        def positions(self) -> list:
            return [
                option_position("AAPL", -1, avg_cost=300, expiry=date(2026, 12, 2), strike=220),
                # OTM call: no alert
                option_position(
                    "KO", -2, avg_cost=50, expiry=date(2026, 12, 2), strike=70, right="C"
                ),
                # ITM but 46 days out: no alert
                option_position("PEP", -1, avg_cost=50, expiry=date(2027, 1, 15), strike=170),
            ]

        def quotes(self, symbols: list[str]) -> list[Quote]:
            prices = {"AAPL": 210.0, "KO": 64.0, "PEP": 150.0}
            return [quote(s, prices[s]) for s in symbols]

    [n] = emails.check_expiring_itm(Holding(), today)
    assert n.request["subject"] == (
        "Wheeldesk: short AAPL 2026-12-02 220P is in the money, 2 day(s) to expiry"
    )
    assert "Underlying 210.00 vs strike 220" in n.request["text"]
    assert emails.check_expiring_itm(Holding(), today) == []  # once per contract


def test_order_filled_is_emailed_once(saved_scan):
    """The fill email says what happened to the cycle, worked by hand: SELL 1 KO 60P filled
    at 1.12 → premium received 1.12 x 1 x 100 = $112.00; the ledger's cycle is a short put
    open with that premium (the ledger books the $1.05 commission apart, as fees), next step
    "let it run"."""
    from decimal import Decimal

    from wheeldesk_web.alerts import emails
    from wheeldesk_web.ledger.services import record_fills
    from wheeldesk_web.orders.models import Order

    render = pytest.importorskip("notifier.render")
    order = Order.objects.create(
        user=saved_scan.user,
        symbol="KO",
        expiry=date(2026, 7, 17),
        strike=Decimal("60"),
        right="P",
        action="SELL",
        quantity=1,
        limit_price=Decimal("1.10"),
        status="filled",
        filled=Decimal(1),
        avg_fill_price=Decimal("1.12"),
        commission=Decimal("1.05"),
        account_id="DU7654321",
        is_paper=True,
    )
    record_fills(
        [option_fill("0000e001.00000001.01.01", expiry=date(2026, 7, 17), price=1.12)],
        "nats",
    )
    [n] = emails.queue_order_fills()
    request = EmailRequest.model_validate(n.request)
    assert request.template == "order_filled" and request.idempotency_key == n.key
    assert request.context["premium"] == 112.0
    cycle = request.context["cycle"]
    assert cycle["state"] == "Short put open" and cycle["symbol"] == "KO"
    assert cycle["next_step"].startswith("let it run")
    out = render.render(request.template, request.context, web_url="https://desk.example")
    assert out.subject == "Filled: SELL 1 KO 2026-07-17 60P @ $1.12"
    assert "Premium received: $112.00" in out.text and "(paper)" in out.text
    assert "KO wheel cycle: Short put open" in out.text
    assert cycle["premium"] == 112.0 and cycle["basis"] is None  # no shares yet
    assert "Premium so far: $112.00" in out.text
    assert f"https://desk.example/orders/{order.client_order_id}/" in out.text
    assert f"https://desk.example{cycle['path']}" in out.html
    assert emails.queue_order_fills() == []


def test_an_execution_missed_on_the_bus_is_backfilled_once_after_a_sync(saved_scan):
    """Found by the soak: an expiry that settled while the bridge was reconnecting to IBKR was
    never published, so the ledger lacked it for good; each sync now backfills from IBKR."""
    from wheeldesk_web.ledger.models import Execution, WheelCycle
    from wheeldesk_web.ledger.services import record_fills

    put = {"symbol": "AAPL", "expiry": date(2026, 12, 18), "strike": 217.5}
    sold = option_fill(
        "0000e007.00000abb.01.01",
        time=datetime(2026, 12, 1, 15, tzinfo=UTC),
        price=2.4,
        commission=0.65,
        **put,
    )
    record_fills([sold], "nats")  # the sale came over NATS as usual
    expired = option_fill(
        "0000e007.00000abc.01.01",
        time=datetime(2026, 12, 18, 21, 5, tzinfo=UTC),
        side="BOT",
        price=0.0,
        commission=None,
        kind="expiration",
        **put,
    )

    class Settled(QuietBridge):
        def executions(self, since=None) -> list:  # type: ignore[no-untyped-def]
            return [sold, expired]

    notifier, calls = RecordingNotifier(), []
    worker = make_worker(notifier, calls)
    worker.bridge_factory = Settled
    worker.tick(MONDAY_OPEN)
    worker.tick(MONDAY_OPEN.replace(minute=5))  # the next sync: nothing new

    assert calls == ["sync", "scan", "sync"]
    stored = {e.exec_id: (e.kind, e.source) for e in Execution.objects.all()}
    assert stored == {sold.exec_id: ("trade", "nats"), expired.exec_id: ("expiration", "bridge")}
    [cycle] = WheelCycle.objects.filter(symbol="AAPL")
    assert (cycle.state, cycle.outcome, cycle.premium) == ("closed", "expired", 240)


def test_settings_schedule_drives_the_scans():
    """Settings' "Scheduled scans" at 09:45 and 15:30 New York: each time scans once on a
    market day (a restarted worker does not scan again), nothing on a Saturday, and the
    interval scan stays off unless asked for (`--scan-every`)."""
    from wheeldesk_web.preferences.models import UserConfig

    user = get_user_model().objects.create_user("s", "s@example.com", "pw-123456-xyz")
    UserConfig.objects.filter(pk=UserConfig.for_user(user).pk).update(
        scan_enabled=True, scan_times="15:30,09:45"
    )
    scanned: list[str] = []

    def worker() -> Worker:
        return Worker(
            scan_every=None,
            scan=lambda: pytest.fail("no interval scan when --scan-every is off"),  # type: ignore[arg-type]
            scan_user=lambda name: scanned.append(name) or True,
            sync=lambda: True,
            bridge_factory=QuietBridge,
            notifier_factory=RecordingNotifier,
        )

    def at(day: int, hh: int, mm: int) -> datetime:
        return datetime(2026, 11 if day > 1 else 12, day, hh, mm, tzinfo=NY)

    w = worker()
    assert "scheduled scan s" not in w.tick(at(30, 9, 40))  # Monday, before the first time
    assert "scheduled scan s" in w.tick(at(30, 9, 46))
    assert "scheduled scan s" not in w.tick(at(30, 10, 0))
    assert "scheduled scan s" not in worker().tick(at(30, 10, 5))  # restarted: done already
    assert "scheduled scan s" in w.tick(at(30, 15, 31))
    assert "scheduled scan s" not in w.tick(at(30, 15, 45))
    assert "scheduled scan s" in w.tick(at(1, 9, 50))  # Tuesday's 09:45
    assert worker().tick(SATURDAY) == []  # market closed: no scan
    assert scanned == ["s", "s", "s"]


def test_a_worker_back_after_missed_times_scans_once():
    """Down from 09:00 until 15:40 on a market day: one scan for the latest missed time
    (15:30), not one per time missed."""
    from wheeldesk_web.worker.loop import scheduled_due

    times = ["09:45", "12:00", "15:30"]
    assert scheduled_due(times, datetime(2026, 11, 30, 15, 40, tzinfo=NY), []) == (
        "2026-11-30 15:30"
    )
    assert (
        scheduled_due(times, datetime(2026, 11, 30, 15, 40, tzinfo=NY), ["2026-11-30 15:30"])
        is None
    )
    assert scheduled_due(times, datetime(2026, 11, 30, 9, 0, tzinfo=NY), []) is None
