from django.contrib import admin

from wheeldesk_web.ledger.models import Adjustment, Execution, WheelCycle


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = (
        "time",
        "symbol",
        "sec_type",
        "side",
        "quantity",
        "expiry",
        "strike",
        "right",
        "price",
        "commission",
        "kind",
        "source",
        "exec_id",
    )
    list_filter = ("kind", "source", "sec_type", "side", "right")
    search_fields = ("symbol", "exec_id", "client_order_id")
    date_hierarchy = "time"


@admin.register(Adjustment)
class AdjustmentAdmin(admin.ModelAdmin):
    list_display = ("time", "kind", "symbol", "quantity", "price", "amount", "note", "user")
    list_filter = ("kind",)
    search_fields = ("symbol", "note")


@admin.register(WheelCycle)
class WheelCycleAdmin(admin.ModelAdmin):
    list_display = (
        "symbol",
        "start",
        "end",
        "state_label",
        "premium",
        "fees",
        "adjusted_cost_basis",
        "realised_pnl",
        "annualised_return",
        "days",
    )
    list_filter = ("state", "outcome")
    search_fields = ("symbol",)
