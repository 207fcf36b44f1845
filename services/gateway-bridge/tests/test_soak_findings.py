"""What the soak (`bench.soak`, a sped-up tws-sim with IB Gateway's nightly restarts) found.

- An expiry that passed since the option parameters were cached: IB's "no security
  definition" (200) for its listing made the bridge qualify every strike of the secdef union
  one by one, one more 200 each. Now the expiry is skipped after the one probe.
- IB errors the bridge answers itself (that 200, a cancel that raced a fill, a refused or
  dropped connection it retries) were logged by ib_insync at ERROR; now INFO or WARNING, so
  that an ERROR line in the bridge's log means something needs a look.
- A restart while a chain's option lines waited for the pacing limiter to cancel them: the
  cancels named lines the new connection never had ("No reqId found", one per contract).
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bridge_helpers import api, bridge_env, ctl, wait_for
from gateway_bridge.connection import AnsweredErrors, RetriedConnects, quiet_answered_errors
from wheeldesk_testing.procs import Proc

EASTERN = ZoneInfo("America/New_York")


def test_an_expiry_no_longer_listed_costs_one_probe_and_no_error_line(
    tws_sim_factory: Any, service_factory: Any, nats_server: Proc
) -> None:
    sim = tws_sim_factory()
    bridge = service_factory("gateway-bridge", env=bridge_env(sim, nats_server.url))  # type: ignore[attr-defined]
    # Puts first: the option parameters (expirations) are cached; calls are not listed yet.
    puts = api(bridge, "GET", "/v1/chains/KO", params={"right": "P", "dte_max": 14, "strikes": 2})
    assert puts.status_code == 200, puts.text
    first = min(date.fromisoformat(e) for e in puts.json()["expirations"])
    # IB's clock passes that expiry's close: its contracts are gone.
    now = datetime.fromisoformat(ctl(sim, "/state")["sim_time"])
    close = datetime(first.year, first.month, first.day, 16, tzinfo=EASTERN)
    ctl(sim, "/control/advance", {"seconds": (close - now).total_seconds() + 3600})

    calls = api(bridge, "GET", "/v1/chains/KO", params={"right": "C", "dte_max": 14, "strikes": 2})

    assert calls.status_code == 200, calls.text
    body = calls.json()
    assert all(o["contract"]["expiry"] != first.isoformat() for o in body["options"])
    assert body["options"], "the later expiries are still quoted"
    log = bridge.log_text()
    assert not [line for line in log.splitlines() if " ERROR " in line], log[-3000:]
    unknown = [line for line in log.splitlines() if "No security definition" in line]
    if first.isoformat() in body["expirations"]:
        # The bridge still counted the expiry in (its clock reading is up to 30 s old): one
        # probe for the listing, none per strike.
        assert len(unknown) == 1, unknown
        assert " INFO " in unknown[0] and "Error 200" in unknown[0]
        assert f"KO {first.isoformat()} C not listed at IB: skipped" in log
    else:
        assert unknown == [], unknown


def test_answered_ib_errors_are_logged_at_info_and_others_stay_errors() -> None:
    """A cancel that raced a fill (10148) is an answer; a rejected order (201) is not. So are
    IB's refusals of tick 258 (10358: no subscription; 321 naming 258: a Gateway of TWS API
    10.47+), and not a 321 about another tick list, even one whose legal list shows 258."""
    logger = logging.getLogger("test.ib_insync.wrapper")
    client = logging.getLogger("test.ib_insync.client")
    quiet_answered_errors(logger, client)
    quiet_answered_errors(logger, client)  # once only
    assert sum(isinstance(f, AnsweredErrors) for f in logger.filters) == 1
    records = [
        logging.LogRecord(logger.name, logging.ERROR, __file__, 1, msg, None, None)
        for msg in (
            "Error 10148, reqId 7: OrderId 7 that needs to be cancelled cannot be cancelled",
            "Error 200, reqId 8: No security definition has been found for the request",
            "Error 201, reqId 9: Order rejected - reason: not enough equity",
            "Error 10358, reqId 10: Fundamentals data is not allowed., contract: Stock(KO)",
            "Error 321, reqId 11: Error validating request.-'bO' : cause - Incorrect generic "
            "tick list of 258.  Legal ones for (STK) are: 100,101,104, contract: Stock(KO)",
            "Error 321, reqId 12: Error validating request.-'bO' : cause - Incorrect generic "
            "tick list of 999.  Legal ones for (STK) are: 100,258,456, contract: Stock(KO)",
            "Error 321, reqId 13: Error validating request.-'a0' : cause - The account code is "
            "required for this operation.",
        )
    ]
    for record in records:
        assert logger.filters[0].filter(record)
    levels = [r.levelname for r in records]
    assert levels == ["INFO", "INFO", "ERROR", "INFO", "INFO", "ERROR", "ERROR"]


def test_a_refused_connect_is_a_warning_while_the_bridge_retries() -> None:
    """IB Gateway's nightly restart refuses connections for a while; the bridge retries."""
    logger, client = logging.getLogger("test2.wrapper"), logging.getLogger("test2.client")
    quiet_answered_errors(logger, client)
    [retried] = [f for f in client.filters if isinstance(f, RetriedConnects)]
    records = [
        logging.LogRecord(client.name, logging.ERROR, __file__, 1, msg, None, None)
        for msg in (
            "API connection failed: ConnectionRefusedError(111, 'Connection refused')",
            "Make sure API port on TWS/IBG is open",
            "Peer closed connection.",
            "Peer closed connection. clientId 5 already in use?",
        )
    ]
    for record in records:
        assert retried.filter(record)
    assert [r.levelname for r in records] == ["WARNING", "WARNING", "WARNING", "ERROR"]


def test_a_restart_while_chain_lines_wait_to_be_cancelled_logs_no_error(
    tws_sim_factory: Any, service_factory: Any, nats_server: Proc
) -> None:
    """Found by the soak: IB Gateway restarting while a chain's option lines queued for the
    pacing limiter to cancel them; the cancels then named lines the new connection never had
    ("cancelMktData: No reqId found", ERROR), one per contract."""
    sim = tws_sim_factory()
    bridge = service_factory(
        "gateway-bridge",
        env=bridge_env(sim, nats_server.url, IB_MESSAGES_PER_SECOND="4"),  # type: ignore[attr-defined]
    )
    answers: list[int] = []
    asking = threading.Thread(
        target=lambda: answers.append(
            api(
                bridge, "GET", "/v1/chains/META", params={"dte_max": 10, "strikes": 8}, timeout=120
            ).status_code
        )
    )
    asking.start()
    # First looks stream until open interest arrives, then cancel: paced at 4 messages a second.
    wait_for(
        lambda: 'ib_requests_total{kind="generic_ticks"}' in api(bridge, "GET", "/metrics").text,
        60,
        what="option lines opened for the chain",
    )

    def cancels_waiting() -> bool:
        """IB has the first cancels of the chain's lines; the others wait in the limiter."""
        counts = ctl(sim, "/state/requests")
        cancels = counts["requests"].get("cancelMktData", 0)
        return 1 <= cancels < counts["market_data"]["streams"]

    wait_for(cancels_waiting, 60, interval=0.05, what="the chain's lines being cancelled")
    ctl(sim, "/control/restart", {"down_seconds": 2})
    asking.join(180)
    wait_for(lambda: api(bridge, "GET", "/readyz").status_code == 200, 60, what="reconnected")
    assert answers, "the chain request answered"
    log = bridge.log_text()
    assert "No reqId found" not in log, log[-3000:]
