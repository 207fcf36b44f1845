"""What every page's layout needs: the nav and the state of each service."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from wheeldesk_web.core.nav import nav_items
from wheeldesk_web.core.status import market_view, service_status


def layout(request: HttpRequest) -> dict[str, Any]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"nav": [], "services": None, "market": None}
    return {"nav": nav_items(request), "services": service_status(), "market": market_view()}
