from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "wheeldesk_web.market"
    label = "market"
