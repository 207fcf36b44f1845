from django.urls import path

from wheeldesk_web.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/delete/", views.delete, name="delete"),
]
