from django.urls import path

from wheeldesk_web.core import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
