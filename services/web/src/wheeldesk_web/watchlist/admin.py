from django.contrib import admin

from wheeldesk_web.watchlist.models import Watchlist, WatchlistItem


class ItemInline(admin.TabularInline):
    model = WatchlistItem
    extra = 0


@admin.register(Watchlist)
class WatchlistAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "is_default", "created"]
    list_filter = ["is_default", "user"]
    search_fields = ["name", "user__username", "items__symbol"]
    inlines = [ItemInline]


@admin.register(WatchlistItem)
class WatchlistItemAdmin(admin.ModelAdmin):
    list_display = ["symbol", "watchlist", "notes", "added"]
    list_filter = ["watchlist"]
    search_fields = ["symbol", "notes"]
