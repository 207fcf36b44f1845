from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "wheeldesk_web.ledger"
    label = "ledger"
    default_auto_field = "django.db.models.BigAutoField"
