from django.contrib import admin

from wheeldesk_web.preferences.models import UserConfig


@admin.register(UserConfig)
class UserConfigAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "premium_basis",
        "min_apy",
        "delta_min",
        "delta_max",
        "dte_min",
        "dte_max",
        "notify_email",
        "scan_enabled",
        "updated",
    ]
    list_filter = ["premium_basis", "earnings", "notify_email", "scan_enabled"]
    search_fields = ["user__username", "user__email"]
