from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "wheeldesk_web.live"
    label = "live"
