from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "wheeldesk_web.core"
    label = "core"
