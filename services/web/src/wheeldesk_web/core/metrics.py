"""`/metrics` for Prometheus: request-free gauges and counters a web operator wants (SSE
clients, streams opened), summed over the uvicorn worker processes.

Each uvicorn worker (WEB_WORKERS, default 2) is a process with its own instruments; a scrape
lands on one of them, so without help it would see that worker's numbers only. With more
than one worker the launcher calls `prepare_multiprocess` before uvicorn starts them: every
process then writes its values to files in PROMETHEUS_MULTIPROC_DIR (a directory of this run,
emptied at start) and this view sums them with prometheus_client's MultiProcessCollector.
One process needs none of it: its own registry is the whole story.

Scraped with the internal bearer token (as every other service's `/metrics`); a signed-in
staff user may open it too; anyone else is sent to the login page like every other URL.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from wheeldesk.auth import token_ok

from wheeldesk_web.config import SETTINGS

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess(workers: int, base: Path | None = None) -> Path | None:
    """Set PROMETHEUS_MULTIPROC_DIR for the worker processes about to start; returns it.

    Call it in the launcher before uvicorn starts its workers (they inherit the variable and
    create their instruments after it is set). The directory is `<DATA_DIR>/prometheus/<port>`
    unless the operator set the variable; either way its `*.db` files from an earlier run are
    removed, or a restarted web would add the old run's counts to the new one's.
    One worker is left in plain mode (nothing to sum), unless the operator set the variable.
    """
    configured = os.environ.get(MULTIPROC_ENV)
    if not configured and workers <= 1:
        return None
    path = (
        Path(configured)
        if configured
        else (base or SETTINGS.data_dir) / "prometheus" / str(SETTINGS.web_port)
    ).resolve()
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def exposition() -> bytes:
    """The Prometheus text: every worker's files summed in multiprocess mode, else this
    process's registry."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry)


@login_not_required
def metrics(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth.views import redirect_to_login

    from wheeldesk_web.core import instruments  # noqa: F401  (this process's, registered)

    token = SETTINGS.internal_api_token.get_secret_value()
    if not token_ok(request.headers.get("Authorization"), token) and not (
        request.user.is_authenticated and request.user.is_staff
    ):
        return redirect_to_login(request.get_full_path())
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
