import hashlib
from datetime import timedelta

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import PasswordResetView
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator


@login_not_required
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "service": "web"})


@login_not_required
def readyz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return JsonResponse({"status": "not_ready", "reason": f"database: {exc}"}, status=503)
    return JsonResponse({"status": "ready", "service": "web"})


@method_decorator(login_not_required, name="dispatch")
class ThrottledPasswordResetView(PasswordResetView):
    """Django's password reset, refused (429, explained) past a few requests per address and
    per email: anonymous POSTs cannot flood an inbox or spend the email quota.

    Counted before the form is checked and whether or not the address has an account, so the
    answer reveals nothing about who has one. The counters live in the `throttle` cache (files
    shared by every web process).
    """

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:  # type: ignore[no-untyped-def]
        email = request.POST.get("email", "").strip().lower()[:254]
        ip = request.META.get("REMOTE_ADDR", "")
        digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        for key, limit, window, reason in (
            (
                f"reset-ip:{ip}",
                RESET_PER_ADDRESS,
                RESET_WINDOW,
                "Too many reset requests from your address.",
            ),
            (
                f"reset-email:{digest}",
                RESET_PER_EMAIL,
                RESET_WINDOW,
                "Too many reset requests for this email.",
            ),
        ):
            if _over(key, limit, window):
                minutes = max(1, int(window.total_seconds() // 60))
                return render(
                    request,
                    "registration/reset_throttled.html",
                    {"reason": reason, "minutes": minutes},
                    status=429,
                )
        return super().post(request, *args, **kwargs)


RESET_PER_ADDRESS = 5
RESET_PER_EMAIL = 5
RESET_WINDOW = timedelta(minutes=15)


def _over(key: str, limit: int, window: timedelta) -> bool:
    """Count one request under `key` (a fixed window); True once past `limit`."""
    cache = caches["throttle"]
    if cache.add(key, 1, timeout=int(window.total_seconds())):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=int(window.total_seconds()))
        return False
    return count > limit
