from django.apps import AppConfig


class WatchlistConfig(AppConfig):
    name = "wheeldesk_web.watchlist"
    label = "watchlist"
