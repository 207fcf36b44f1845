from django.contrib import admin

from wheeldesk_web.orders.models import Order, OrderAudit, OrderStatusChange, TradingConfig


class StatusInline(admin.TabularInline):
    model = OrderStatusChange
    extra = 0
    readonly_fields = ("at", "status", "filled", "note")
    can_delete = False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "created",
        "client_order_id",
        "action",
        "quantity",
        "symbol",
        "expiry",
        "strike",
        "right",
        "limit_price",
        "status",
        "ib_order_id",
        "is_paper",
        "avg_fill_price",
        "commission",
    )
    list_filter = ("status", "action", "intent", "is_paper", "right")
    search_fields = ("client_order_id", "symbol", "ib_order_id")
    inlines = [StatusInline]
    readonly_fields = ("client_order_id", "preview", "checks", "fills")


@admin.register(OrderAudit)
class OrderAuditAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "client_order_id", "user", "detail")
    list_filter = ("action",)
    search_fields = ("client_order_id", "detail")
    readonly_fields = [f.name for f in OrderAudit._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(TradingConfig)
class TradingConfigAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "max_contracts",
        "max_notional",
        "concentration_pct",
        "cash_reserve_pct",
        "updated",
    )
