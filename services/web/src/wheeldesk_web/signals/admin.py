from django.contrib import admin

from wheeldesk_web.signals.models import Rejection, ScanRun, Signal


@admin.register(ScanRun)
class ScanRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "started",
        "status",
        "trigger",
        "user",
        "signal_count",
        "rejection_count",
        "error_count",
        "duration_ms",
    ]
    list_filter = ["status", "trigger", "started"]
    search_fields = ["scan_id", "error", "user__username"]
    date_hierarchy = "started"


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    list_display = [
        "symbol",
        "kind",
        "expiry",
        "strike",
        "right",
        "tier",
        "score",
        "apy",
        "pop",
        "abs_delta",
        "dte",
        "status",
        "scan",
    ]
    list_filter = ["kind", "tier", "status", "right", "earnings_before_expiry"]
    search_fields = ["symbol"]
    list_select_related = ["scan"]


@admin.register(Rejection)
class RejectionAdmin(admin.ModelAdmin):
    list_display = ["symbol", "rule", "message", "contract", "is_error", "scan"]
    list_filter = ["rule", "is_error"]
    search_fields = ["symbol", "message", "rule"]
