from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


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


def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "core/dashboard.html")
