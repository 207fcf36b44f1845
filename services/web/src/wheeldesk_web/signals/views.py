from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def signal_list(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html")


def export_csv(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html")


def scan_now(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html")


def scan_progress(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "base.html")


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "base.html")


def set_status(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "base.html")
