from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "wheeldesk_web.orders"
    label = "orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The capacity (signals, below orders) counts the cash our working sell puts tie up.
        from wheeldesk_web.orders.working import own_working_puts
        from wheeldesk_web.signals import capacity

        capacity.register_own_working(own_working_puts)
