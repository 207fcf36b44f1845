"""The Discover page against a real bridge on its own tws-sim (seed 7, the pinned start).

IB's scanners rank the stocks; the page offers only IB's scan codes and filters, adds picked
results to a watchlist through the watchlist's rules, and hands them to the wheel screen.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from pydantic import SecretStr
from wheeldesk_testing.procs import TEST_TOKEN, Proc, free_port, service_proc, tws_sim_proc
from wheeldesk_web.config import SETTINGS
from wheeldesk_web.discover import services
from wheeldesk_web.discover.models import SavedDiscovery
from wheeldesk_web.signals.models import ScanRun
from wheeldesk_web.watchlist.services import default_watchlist

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def bridge(nats_server: Proc) -> Iterator[Proc]:
    sim = tws_sim_proc(seed=7).start()
    proc = service_proc(
        "gateway-bridge",
        {
            "IB_PORT": str(sim.port),
            "NATS_URL": nats_server.url,  # type: ignore[attr-defined]
            "IB_CLIENT_ID": "41",
            "IB_SIMULATED": "true",
            "IB_REQUEST_TIMEOUT": "15",
        },
    )
    proc.start(timeout=90)
    yield proc
    proc.stop()
    sim.stop()


@pytest.fixture
def live(monkeypatch, bridge: Proc) -> Proc:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(SETTINGS, "bridge_url", bridge.url)
    monkeypatch.setattr(SETTINGS, "internal_api_token", SecretStr(TEST_TOKEN))
    return bridge


@pytest.fixture
def trader(client):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("finder", "f@example.com", "s3cret-pass-123")
    client.force_login(user)
    return user


def results_symbols(client) -> list[str]:  # type: ignore[no-untyped-def]
    last = services.last_result(client.session)
    assert last is not None
    return [r.symbol for r in last.result.rows]


def test_page_offers_ibs_scan_codes_and_filters(client, trader, live) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/discover/").content.decode()
    assert "Liquid optionable stocks $20–$200 with high IV over historical" in body
    assert "Most active options, large caps" in body
    # the form's choices are IB's: its display names, its filter codes
    assert (
        '<option value="HIGH_OPT_IMP_VOLAT_OVER_HIST">Highest Opt Imp Vol Over Historical' in body
    )
    assert 'data-filter="marketCapAbove1e6"' in body
    assert 'href="/discover/"' in body  # in the navigation


def test_ready_idea_ranks_stocks_then_two_go_to_the_watchlist(client, trader, live) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/discover/run/", {"idea": "iv-over-hist"})
    assert r.status_code == 302 and r["Location"].endswith("/discover/#results")
    page = client.get("/discover/").content.decode()
    symbols = results_symbols(client)
    assert len(symbols) == 20
    last = services.last_result(client.session)
    assert last is not None
    for row in last.result.rows:  # the idea's filters: $20–$200
        assert row.price is not None and 20 * 0.99 < row.price < 200 * 1.01
        assert row.sector
    assert f'data-symbol="{symbols[0]}"' in page and "IBKR ranked 20 stocks" in page
    r = client.post("/discover/add/", {"symbol": symbols[:2]})
    assert r.status_code == 302
    assert default_watchlist(trader).symbols() == sorted(symbols[:2])
    # again: nothing doubled, said so
    client.post("/discover/add/", {"symbol": symbols[:2]})
    assert default_watchlist(trader).symbols() == sorted(symbols[:2])
    page = client.get("/discover/").content.decode()
    assert "Already on Main" in page


def test_a_symbol_not_among_the_results_is_refused_without_a_write(client, trader, live) -> None:  # type: ignore[no-untyped-def]
    client.post("/discover/run/", {"idea": "active-options-large"})
    first = results_symbols(client)[0]
    r = client.post("/discover/add/", {"symbol": [first, "NOTHERE"]})
    assert r.status_code == 400
    assert "NOTHERE is not among the discovery&#x27;s results." in r.content.decode()
    assert default_watchlist(trader).symbols() == []


def test_own_scan_form_errors_name_the_field(client, trader, live) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/discover/run/",
        {
            "scan_code": "HIGH_OPT_IMP_VOLAT",
            "location": "STK.US.MAJOR",
            "rows": "10",
            "filter_priceAbove": "50",
            "filter_priceBelow": "20",
        },
    )
    assert r.status_code == 400
    body = r.content.decode()
    assert 'id="id_filter_priceBelow-error"' in body and "Must be above Price above (50)" in body
    r = client.post(
        "/discover/run/", {"scan_code": "TYPED_BY_HAND", "location": "STK.US.MAJOR", "rows": "10"}
    )
    assert r.status_code == 400 and 'id="id_scan_code-error"' in r.content.decode()
    r = client.post(
        "/discover/run/", {"scan_code": "MOST_ACTIVE", "location": "STK.US.MAJOR", "rows": "99"}
    )
    assert r.status_code == 400 and 'id="id_rows-error"' in r.content.decode()
    assert services.last_result(client.session) is None


def test_own_scan_runs_and_saves(client, trader, live) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/discover/run/",
        {
            "scan_code": "MOST_ACTIVE",
            "location": "STK.US.MAJOR",
            "rows": "5",
            "filter_marketCapAbove1e6": "100000",
        },
    )
    assert r.status_code == 302
    last = services.last_result(client.session)
    assert last is not None and len(last.result.rows) == 5
    assert all(row.market_cap and row.market_cap > 100e9 * 0.99 for row in last.result.rows)
    client.post("/discover/save/", {"name": "Mega caps"})
    saved = SavedDiscovery.objects.get(user=trader)
    assert (saved.scan_code, saved.filters, saved.rows) == (
        "MOST_ACTIVE",
        {"marketCapAbove1e6": 100000.0},
        5,
    )
    client.post(f"/discover/saved/{saved.pk}/run/")
    saved.refresh_from_db()
    assert saved.last_symbols == [row.symbol for row in last.result.rows]


def test_wheel_screen_on_the_results_queues_a_scan_of_them(
    client, trader, live, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # The scan itself runs on a thread (screener + bridge): the e2e test follows it to signals.
    started: list[ScanRun] = []
    monkeypatch.setattr(services, "start_in_background", started.append)
    client.post("/discover/run/", {"idea": "high-iv-midcaps"})
    symbols = results_symbols(client)
    r = client.post("/discover/screen/", {"all": "1"})
    run = ScanRun.objects.get(user=trader)
    assert r.status_code == 302 and r["Location"] == f"/signals/?scan={run.pk}"
    assert run.symbols == symbols and started == [run]


def test_bridge_down_is_a_banner_not_a_traceback(client, trader, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(SETTINGS, "bridge_url", f"http://127.0.0.1:{free_port()}")
    r = client.get("/discover/")
    assert r.status_code == 200
    assert "Could not load IBKR&#x27;s scanners: IBKR is not reachable right now." in (
        r.content.decode()
    )
    r = client.post("/discover/run/", {"idea": "iv-over-hist"})
    assert r.status_code == 502
    assert "The scan did not run: IBKR is not reachable right now." in r.content.decode()


def test_scheduled_discoveries_record_new_names_once_a_trading_day(client, trader, live) -> None:  # type: ignore[no-untyped-def]
    from django.core.management import call_command
    from wheeldesk_testing.moments import SIM_START
    from wheeldesk_web.worker.loop import Worker

    SavedDiscovery.objects.create(
        user=trader, name="Big caps", scan_code="MOST_ACTIVE", rows=5,
        filters={"marketCapAbove1e6": 100000}, on_schedule=True,
    )  # fmt: skip
    SavedDiscovery.objects.create(user=trader, name="Off", scan_code="MOST_ACTIVE", rows=3)
    call_command("discover", "--no-screen")
    saved = SavedDiscovery.objects.get(name="Big caps")
    assert len(saved.last_symbols) == 5 and saved.last_run is not None
    assert SavedDiscovery.objects.get(name="Off").last_run is None  # not on the schedule
    assert not ScanRun.objects.exists()

    # the worker: once a trading day, the wheel screen on new names (none new here: same ranks)
    calls: list[int] = []

    def discover() -> int:
        calls.append(1)
        return len(services.run_scheduled(screen=True))

    # the bridge is the real one; sync is not under test here
    worker = Worker(scan_every=None, sync=lambda: False, discover=discover, ignore_hours=True)
    assert "discovered 1" in worker.tick(SIM_START)
    later = worker.tick(SIM_START.replace(hour=11))  # the same trading day
    assert not [d for d in later if d.startswith("discovered")] and calls == [1]
    assert not ScanRun.objects.exists()  # the same five names: nothing new to screen
