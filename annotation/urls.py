from django.urls import path

from annotation import views

urlpatterns = [
    path("", views.project_list, name="home"),
]
