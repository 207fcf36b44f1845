from django.urls import path

from wheeldesk_web.orders import roll_views, views

app_name = "orders"
COID = "<str:client_order_id>"
urlpatterns = [
    path("", views.order_list, name="list"),
    path("new/", views.new_order, name="new"),
    path("close/", views.close_position, name="close"),
    path("roll/", roll_views.roll_position, name="roll"),
    path("settings/", views.trading_settings, name="settings"),
    path(f"{COID}/", views.detail, name="detail"),
    path(f"{COID}/preview/", views.preview, name="preview"),
    path(f"{COID}/update/", views.update, name="update"),
    path(f"{COID}/confirm/", views.confirm, name="confirm"),
    path(f"{COID}/cancel/", views.cancel, name="cancel"),
    path(f"{COID}/reprice/", views.reprice, name="reprice"),
    path(f"{COID}/status/", views.status, name="status"),
]
