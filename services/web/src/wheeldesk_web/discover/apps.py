from django.apps import AppConfig


class DiscoverConfig(AppConfig):
    name = "wheeldesk_web.discover"
    label = "discover"
