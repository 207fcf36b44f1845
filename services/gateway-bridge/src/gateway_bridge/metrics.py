"""Prometheus figures an operator watches on the bridge: IB requests, lines, pacing waits."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

IB_REQUESTS = Counter(
    "wheeldesk_bridge_ib_requests_total",
    "Requests sent to IB by kind (snapshot, stream, generic, contract, order, ...)",
    ["kind"],
)
OPTION_QUOTES_REQUESTED = Counter(
    "wheeldesk_bridge_option_quotes_requested_total", "Option quotes asked for by chain requests"
)
OPTION_QUOTES_RETURNED = Counter(
    "wheeldesk_bridge_option_quotes_returned_total", "Option quotes returned in chains"
)
LINES_IN_USE = Gauge("wheeldesk_bridge_lines_in_use", "Market data lines held now")
LINES_PEAK = Gauge("wheeldesk_bridge_lines_peak", "Most market data lines ever held at once")
LINES_CAPACITY = Gauge("wheeldesk_bridge_lines_capacity", "Market data line budget")
LINES_WAITING = Gauge("wheeldesk_bridge_lines_waiting", "Requests queued for a line")
PACING_WAIT = Gauge(
    "wheeldesk_bridge_pacing_wait_seconds_total", "Seconds requests spent in the rate limiter"
)
RECONNECTS = Gauge("wheeldesk_bridge_ib_connects_total", "Successful IB connects (1 + reconnects)")
