from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "wheeldesk_web.market"
    label = "market"

    def ready(self) -> None:
        # The watchlist sits below market and imports none of it: market connects here.
        from wheeldesk_web.market import services
        from wheeldesk_web.market.streaming import on_watchlist_changed
        from wheeldesk_web.watchlist import hooks

        hooks.changed.connect(on_watchlist_changed, dispatch_uid="market.streaming")
        hooks.checked.connect(services.on_stock_checked, dispatch_uid="market.stock")
        hooks.register_stock_lookup(services.stocks_by_symbol)
