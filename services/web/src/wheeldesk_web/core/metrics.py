"""`/metrics` for Prometheus: request-free gauges a web operator wants (SSE clients).

Scraped with the internal bearer token (as every other service's `/metrics`); a signed-in
user may open it too; anyone else is sent to the login page like every other URL.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from wheeldesk.auth import token_ok

from wheeldesk_web.config import SETTINGS
from wheeldesk_web.live import hub as live_hub

SSE_CLIENTS = Gauge("wheeldesk_web_sse_clients", "Browsers connected to /live/stream")
SSE_CLIENTS.set_function(lambda: sum(len(h.listeners) for h in live_hub._hubs.values()))


@login_not_required
def metrics(request: HttpRequest) -> HttpResponse:
    token = SETTINGS.internal_api_token.get_secret_value()
    if not token_ok(request.headers.get("Authorization"), token) and not (
        request.user.is_authenticated and request.user.is_staff
    ):
        return redirect_to_login(request.get_full_path())
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
