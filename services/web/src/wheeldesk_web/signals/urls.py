from django.urls import path

from wheeldesk_web.signals import views

app_name = "signals"
urlpatterns = [
    path("", views.signal_list, name="list"),
    path("export.csv", views.export_csv, name="export"),
    path("scan/", views.scan_now, name="scan"),
    path("scan/<int:pk>/progress/", views.scan_progress, name="progress"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/status/", views.set_status, name="status"),
]
