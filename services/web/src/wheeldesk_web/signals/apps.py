from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "wheeldesk_web.signals"
    label = "signals"
