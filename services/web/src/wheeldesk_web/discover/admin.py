from django.contrib import admin

from wheeldesk_web.discover.models import SavedDiscovery


@admin.register(SavedDiscovery)
class SavedDiscoveryAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "scan_code", "location", "rows", "on_schedule", "last_run")
    list_filter = ("on_schedule", "scan_code")
    search_fields = ("name", "scan_code", "user__username")
    readonly_fields = ("created", "last_run", "last_symbols")
