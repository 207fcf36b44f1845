from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def settings_page(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html")


def reset_defaults(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html")
