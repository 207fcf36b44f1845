from django.apps import AppConfig


class PreferencesConfig(AppConfig):
    name = "wheeldesk_web.preferences"
    label = "preferences"
