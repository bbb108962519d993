from django.urls import path

from training import api, views

urlpatterns = [
    path("projects/<int:project_id>/train/", views.train, name="train"),
    path("projects/<int:project_id>/runs/", views.runs, name="training_runs"),
    path("projects/<int:project_id>/runs/<int:run_id>/", views.run_detail, name="training_run"),
    path("projects/<int:project_id>/runs/<int:run_id>/progress/", views.run_progress, name="training_progress"),
    path("projects/<int:project_id>/runs/<int:run_id>/cancel/", views.run_cancel, name="training_cancel"),
    path("projects/<int:project_id>/models/<int:version_id>/activate/", views.version_activate, name="model_activate"),
    path("projects/<int:project_id>/models/<int:version_id>/delete/", views.version_delete, name="model_delete"),
    path(
        "projects/<int:project_id>/models/<int:version_id>/preannotation/",
        views.preannotation_progress,
        name="preannotation_progress",
    ),
    path("projects/<int:project_id>/agreement/", views.agreement, name="agreement"),
    path("projects/<int:project_id>/try/", views.try_it, name="try_it"),
    path("projects/<int:project_id>/try/predict/", views.try_it_predict, name="try_it_predict"),
    path("api/projects/<int:project_id>/predict", api.Predict.as_view(schema=None), name="api_predict"),
]
