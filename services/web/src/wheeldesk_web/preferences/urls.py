from django.urls import path

from wheeldesk_web.preferences import views

app_name = "preferences"
urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("reset/", views.reset_defaults, name="reset"),
]
