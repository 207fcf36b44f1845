"""The web's Prometheus instruments (gauges, counters), one set per process.

Kept apart from `core.metrics` on purpose: creating an instrument in multiprocess mode
opens its file in PROMETHEUS_MULTIPROC_DIR, so nothing may create one before the launcher
has prepared that directory (`core.metrics.prepare_multiprocess`), which imports no
instrument. Under uvicorn's workers each process adds to its own files and `/metrics`
sums them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

# livesum: the browsers connected to the processes that are alive, summed over them.
SSE_CLIENTS = Gauge(
    "wheeldesk_web_sse_clients",
    "Browsers connected to /live/stream",
    multiprocess_mode="livesum",
)
SSE_CONNECTIONS = Counter(
    "wheeldesk_web_sse_connections", "Live streams (/live/stream) opened since the start"
)
