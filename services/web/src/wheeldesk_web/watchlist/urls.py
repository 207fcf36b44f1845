from django.urls import path

from wheeldesk_web.watchlist import views

app_name = "watchlist"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("<int:pk>/add/", views.add, name="add"),
    path("<int:pk>/import/", views.import_list, name="import"),
    path("<int:pk>/default/", views.make_default, name="default"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/criteria/", views.criteria, name="criteria"),
    path("<int:pk>/criteria/clear/", views.clear_criteria, name="clear_criteria"),
    path("<int:pk>/items/<int:item_pk>/remove/", views.remove, name="remove"),
    path("<int:pk>/items/<int:item_pk>/notes/", views.notes, name="notes"),
]
