from django.urls import path

from wheeldesk_web.ledger import import_views, views

app_name = "ledger"
urlpatterns = [
    path("", views.cycles, name="cycles"),
    path("import/", import_views.import_flex, name="import"),
    path("import/<int:pk>/progress/", import_views.import_progress, name="import_progress"),
    path("sync/", views.sync, name="sync"),
    path("adjust/", views.add_adjustment, name="adjust"),
    path("opening-lots/<int:pk>/", views.edit_opening_lot, name="opening_lot"),
    path("seed-watchlist/", views.seed_watchlist, name="seed_watchlist"),
    path("cycles/<str:key>/", views.cycle, name="cycle"),
]
