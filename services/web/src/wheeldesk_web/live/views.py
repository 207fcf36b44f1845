from django.http import HttpRequest, HttpResponse


def stream(request: HttpRequest) -> HttpResponse:
    return HttpResponse("", content_type="text/event-stream")
