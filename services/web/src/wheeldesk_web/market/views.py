from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def stocks(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html")


def stock(request: HttpRequest, symbol: str) -> HttpResponse:
    return render(request, "base.html")


def chain(request: HttpRequest, symbol: str) -> HttpResponse:
    return render(request, "base.html")


def chain_table(request: HttpRequest, symbol: str) -> HttpResponse:
    return render(request, "base.html")
