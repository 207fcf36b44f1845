from django.contrib import admin

from wheeldesk_web.market.models import AccountSnapshot, Option, Stock


@admin.register(Stock)
class StockAdmin(admin.ModelAdmin):
    list_display = [
        "symbol",
        "name",
        "sector",
        "price",
        "market_data_type",
        "quote_ts",
        "beta",
        "roe",
        "market_cap",
        "dividend_yield",
        "next_earnings",
        "updated",
    ]
    list_filter = ["market_data_type", "sector", "simulated"]
    search_fields = ["symbol", "name", "sector"]
    exclude = ["history"]


@admin.register(Option)
class OptionAdmin(admin.ModelAdmin):
    list_display = [
        "symbol",
        "expiry",
        "strike",
        "right",
        "bid",
        "ask",
        "iv",
        "delta",
        "open_interest",
        "market_data_type",
        "quote_ts",
    ]
    list_filter = ["right", "market_data_type", "expiry"]
    search_fields = ["symbol"]
    date_hierarchy = "expiry"


@admin.register(AccountSnapshot)
class AccountSnapshotAdmin(admin.ModelAdmin):
    list_display = ["account_id", "taken"]
    search_fields = ["account_id"]
    date_hierarchy = "taken"
