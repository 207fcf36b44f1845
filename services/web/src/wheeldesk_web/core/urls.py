from django.urls import path

from wheeldesk_web.core import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("", views.dashboard, name="dashboard"),
]
