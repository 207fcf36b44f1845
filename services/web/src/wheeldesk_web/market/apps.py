from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "wheeldesk_web.market"
    label = "market"

    def ready(self) -> None:
        # A watchlist change re-sends the streaming set (the watchlist does not import market).
        from wheeldesk_web.market.streaming import on_watchlist_changed
        from wheeldesk_web.watchlist.changes import changed

        changed.connect(on_watchlist_changed, dispatch_uid="market.streaming")
