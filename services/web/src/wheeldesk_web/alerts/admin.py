from django.contrib import admin

from wheeldesk_web.alerts.models import (
    AlertPreferences,
    EmailedSignal,
    Notification,
    SavedScan,
    WorkerState,
)


@admin.register(SavedScan)
class SavedScanAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "watchlist", "kinds", "min_apy", "min_pop", "email")
    list_filter = ("email",)
    search_fields = ("name",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created", "kind", "user", "status", "key", "email_id", "sent_at")
    list_filter = ("kind", "status")
    search_fields = ("key", "email_id")


@admin.register(EmailedSignal)
class EmailedSignalAdmin(admin.ModelAdmin):
    list_display = ("at", "user", "signal_key", "saved_scan")
    search_fields = ("signal_key",)


admin.site.register(AlertPreferences)
admin.site.register(WorkerState)
