from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "wheeldesk_web.dashboard"
    label = "dashboard"
