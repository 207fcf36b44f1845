from django.contrib import admin

from wheeldesk_web.core.admin import RecordAdmin
from wheeldesk_web.ledger.models import (
    Adjustment,
    Execution,
    ExecutionAlias,
    FlexImport,
    PositionSnapshot,
    WheelCycle,
)


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
    readonly_fields = ("raws", "sources", "conflict_with", "conflict_id", "ib_exec_id")
    search_fields = ("symbol", "exec_id", "client_order_id")
    date_hierarchy = "time"


@admin.register(Adjustment)
class AdjustmentAdmin(admin.ModelAdmin):
    """Opening lots taken from IBKR's average cost (`from_broker`) are edited here; every
    change rebuilds the ticker's cycles so the pages show it at once."""

    list_display = (
        "time",
        "kind",
        "symbol",
        "quantity",
        "price",
        "amount",
        "from_broker",
        "note",
        "user",
    )
    list_filter = ("kind", "from_broker")
    search_fields = ("symbol", "note")

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        from wheeldesk_web.ledger.services import rebuild

        old = Adjustment.objects.filter(pk=obj.pk).values_list("symbol", flat=True).first()
        super().save_model(request, obj, form, change)
        rebuild({obj.symbol, *([old] if old else [])})

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        from wheeldesk_web.ledger.services import rebuild

        symbol = obj.symbol
        super().delete_model(request, obj)
        rebuild([symbol])

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        from wheeldesk_web.ledger.services import rebuild

        symbols = set(queryset.values_list("symbol", flat=True))
        super().delete_queryset(request, queryset)
        rebuild(symbols)


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


@admin.register(ExecutionAlias)
class ExecutionAliasAdmin(RecordAdmin):
    """Every id a source gave an execution: how a repeat from any source is recognised."""

    list_display = ("alias", "execution")
    search_fields = ("alias", "execution__symbol", "execution__exec_id")
    list_select_related = ("execution",)


@admin.register(PositionSnapshot)
class PositionSnapshotAdmin(RecordAdmin):
    list_display = ("taken", "account_id", "position_count")
    date_hierarchy = "taken"
    search_fields = ("account_id",)

    @admin.display(description="positions")
    def position_count(self, obj: PositionSnapshot) -> int:
        return len(obj.positions or [])


@admin.register(FlexImport)
class FlexImportAdmin(RecordAdmin):
    list_display = (
        "started",
        "filename",
        "user",
        "status",
        "processed",
        "total",
        "added",
        "heartbeat",
        "finished",
    )
    list_filter = ("status",)
    search_fields = ("filename", "error")
