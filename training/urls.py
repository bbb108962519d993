from django.urls import path

from training import api
from training.views import agreement, runs, suggestions, try_it

urlpatterns = [
    path("projects/<int:project_id>/train/", runs.train, name="train"),
    path("projects/<int:project_id>/runs/", runs.runs, name="training_runs"),
    path("projects/<int:project_id>/runs/<int:run_id>/", runs.run_detail, name="training_run"),
    path("projects/<int:project_id>/runs/<int:run_id>/progress/", runs.run_progress, name="training_progress"),
    path("projects/<int:project_id>/runs/<int:run_id>/cancel/", runs.run_cancel, name="training_cancel"),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/learning-curve/",
        runs.learning_curve_start,
        name="learning_curve_start",
    ),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/learning-curve/progress/",
        runs.learning_curve_progress,
        name="learning_curve_progress",
    ),
    path("projects/<int:project_id>/models/<int:version_id>/activate/", runs.version_activate, name="model_activate"),
    path("projects/<int:project_id>/models/<int:version_id>/delete/", runs.version_delete, name="model_delete"),
    path(
        "projects/<int:project_id>/models/<int:version_id>/preannotation/",
        runs.preannotation_progress,
        name="preannotation_progress",
    ),
    path("projects/<int:project_id>/agreement/", agreement.page, name="agreement"),
    path("projects/<int:project_id>/try/", try_it.page, name="try_it"),
    path("projects/<int:project_id>/try/predict/", try_it.predict, name="try_it_predict"),
    path("api/projects/<int:project_id>/predict", api.Predict.as_view(schema=None), name="api_predict"),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/suggestions/<int:suggestion_id>/accept/",
        suggestions.accept,
        name="suggestion_accept",
    ),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/suggestions/<int:suggestion_id>/reject/",
        suggestions.reject,
        name="suggestion_reject",
    ),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/suggestions/restore/",
        suggestions.restore,
        name="suggestions_restore",
    ),
    path("projects/<int:project_id>/suggestions/threshold/", suggestions.threshold, name="personal_threshold"),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/suggestions/accept-all/",
        suggestions.decide_all,
        {"decision": "accept"},
        name="suggestions_accept_all",
    ),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/suggestions/reject-all/",
        suggestions.decide_all,
        {"decision": "reject"},
        name="suggestions_reject_all",
    ),
]
