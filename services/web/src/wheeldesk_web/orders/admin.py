from django.contrib import admin

from wheeldesk_web.core.admin import RecordAdmin
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
class OrderAuditAdmin(RecordAdmin):
    list_display = ("at", "action", "client_order_id", "user", "detail")
    list_filter = ("action",)
    search_fields = ("client_order_id", "detail")
    readonly_fields = [f.name for f in OrderAudit._meta.fields]


@admin.register(OrderStatusChange)
class OrderStatusChangeAdmin(RecordAdmin):
    """Each order's statuses as `orders.state` wrote them (also inline on the order)."""

    list_display = ("at", "order", "status", "filled", "note")
    list_filter = ("status",)
    search_fields = ("order__client_order_id", "order__symbol", "note")
    list_select_related = ("order",)


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
