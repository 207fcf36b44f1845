from django.urls import path

from wheeldesk_web.discover import views

app_name = "discover"
urlpatterns = [
    path("", views.index, name="index"),
    path("run/", views.run, name="run"),
    path("add/", views.add, name="add"),
    path("screen/", views.screen, name="screen"),
    path("save/", views.save, name="save"),
    path("saved/<int:pk>/run/", views.run_saved, name="run_saved"),
    path("saved/<int:pk>/schedule/", views.schedule_saved, name="schedule_saved"),
    path("saved/<int:pk>/delete/", views.delete_saved, name="delete_saved"),
]
