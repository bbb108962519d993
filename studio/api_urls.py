"""/api/v1/: the versioned REST API, its OpenAPI schema and its interactive docs."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotation import api as annotation_api
from studio.api import endpoint
from training import api as training_api

PROJECT = "projects/<int:project_id>/"
DOCUMENT = PROJECT + "documents/<int:document_id>/"
RUN = PROJECT + "runs/<int:run_id>/"
# The split view serves Swagger UI's start-up script as a file: no inline script. In
# production the page needs a log-in (and sends people to it), as the schema does.
DOCS = SpectacularSwaggerSplitView.as_view(url_name="api_schema")

urlpatterns = [
    path("schema/", endpoint(SpectacularAPIView), name="api_schema"),
    path("docs/", login_not_required(DOCS) if settings.DEBUG else login_required(DOCS), name="api_docs"),
    path("projects/", endpoint(annotation_api.ProjectList), name="api_projects"),
    path(PROJECT, endpoint(annotation_api.ProjectDetail), name="api_project"),
    path(PROJECT + "labels/", endpoint(annotation_api.LabelList), name="api_labels"),
    path(PROJECT + "labels/<int:label_id>/", endpoint(annotation_api.LabelDetail), name="api_label"),
    path(PROJECT + "documents/", endpoint(annotation_api.DocumentList), name="api_documents"),
    path(DOCUMENT, endpoint(annotation_api.DocumentDetail), name="api_document"),
    path(DOCUMENT + "spans/", endpoint(annotation_api.Spans), name="api_spans"),
    path(DOCUMENT + "submit/", endpoint(annotation_api.Submit), name="api_submit"),
    path(PROJECT + "annotations/", endpoint(annotation_api.AnnotationList), name="api_annotations"),
    path(PROJECT + "export/", endpoint(annotation_api.Export), name="api_export"),
    path(PROJECT + "runs/", endpoint(training_api.RunList), name="api_runs"),
    path(RUN, endpoint(training_api.RunDetail), name="api_run"),
    path(RUN + "metrics/", endpoint(training_api.RunMetrics), name="api_run_metrics"),
    path(RUN + "cancel/", endpoint(training_api.RunCancel), name="api_run_cancel"),
    path(PROJECT + "models/", endpoint(training_api.ModelList), name="api_models"),
    path(
        PROJECT + "models/<int:version_id>/activate/", endpoint(training_api.ModelActivate), name="api_model_activate"
    ),
    path(PROJECT + "predict/", endpoint(training_api.Predict), name="api_v1_predict"),
]
