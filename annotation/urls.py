from django.urls import path

from annotation import views

urlpatterns = [
    path("", views.project_list, name="home"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<int:project_id>/", views.project_documents, name="project_documents"),
    path("projects/<int:project_id>/settings/", views.project_settings, name="project_settings"),
    path("projects/<int:project_id>/labels/", views.label_save, name="label_create"),
    path("projects/<int:project_id>/labels/<int:label_id>/", views.label_save, name="label_update"),
    path("projects/<int:project_id>/labels/<int:label_id>/delete/", views.label_delete, name="label_delete"),
    path("projects/<int:project_id>/import/", views.import_upload, name="import_upload"),
    path("projects/<int:project_id>/imports/<int:job_id>/", views.import_job, name="import_job"),
    path("projects/<int:project_id>/imports/<int:job_id>/progress/", views.import_progress, name="import_progress"),
    path("projects/<int:project_id>/export/", views.export_download, name="export_download"),
]
