from django.urls import path

from wheeldesk_web.market import views

app_name = "market"
urlpatterns = [
    path("", views.stocks, name="stocks"),
    path("<str:symbol>/", views.stock, name="stock"),
    path("<str:symbol>/chain/", views.chain, name="chain"),
    path("<str:symbol>/chain/table/", views.chain_table, name="chain_table"),
]
