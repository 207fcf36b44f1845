from django.urls import path

from wheeldesk_web.live import views

app_name = "live"
urlpatterns = [
    path("stream", views.stream, name="stream"),
]
