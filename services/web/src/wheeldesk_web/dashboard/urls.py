from django.urls import path

from wheeldesk_web.dashboard import views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
