"""API endpoints for training runs, model versions and predictions."""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from annotation.access import Role, project_for
from studio import access_log
from studio.api import error_responses, page_of, paginated
from training import prediction, services
from training import serializers as shapes
from training.models import ModelVersion, TrainingRun
from training.reports import metrics_for, quoted_rows, record_quoted_reads
from training.throttles import PredictThrottle


def _run(request, project_id, run_id, role=Role.ANNOTATOR) -> tuple[TrainingRun, dict]:
    """The run, and the serializer context for the reader's role."""
    project = project_for(request.user, project_id, role)
    run = get_object_or_404(services.runs_of(project).select_related("started_by", "model_version"), pk=run_id)
    return run, {"role": project.role, "project": project}


def _record_quoted_reads(request, run, context) -> None:
    rows = quoted_rows(run, context["role"])
    record_quoted_reads(request.user, context["project"], run, rows, via=access_log.Via.API)


@extend_schema(tags=["training"])
class RunList(APIView):
    @extend_schema(
        operation_id="runs_list",
        summary="Training runs, newest first",
        responses={200: page_of(shapes.RunSerializer), **error_responses(400, 404)},
    )
    def get(self, request, project_id):
        project = project_for(request.user, project_id)
        runs = services.runs_of(project).select_related("started_by", "model_version")
        return paginated(
            self, request, runs.order_by("-created_at", "-id"), shapes.RunSerializer, context={"role": project.role}
        )

    @extend_schema(
        operation_id="runs_create",
        summary="Start training on the annotations so far (project admins)",
        description="Answers 409 while another run of the project is queued or running.",
        request=shapes.HyperparametersSerializer,
        responses={201: shapes.RunDetailSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request, project_id):
        project = project_for(request.user, project_id, Role.ADMIN)
        payload = shapes.HyperparametersSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            run = services.start_run(project, request.user, payload.validated_data)
        except services.RunAlreadyActive as active:
            return Response({"detail": str(active)}, status=status.HTTP_409_CONFLICT)
        except services.TrainingRefused as refused:
            raise ValidationError({"detail": str(refused)}) from None
        return Response(
            shapes.RunDetailSerializer(run, context={"role": project.role}).data, status=status.HTTP_201_CREATED
        )


@extend_schema(tags=["training"])
class RunDetail(APIView):
    @extend_schema(
        operation_id="runs_retrieve",
        summary="A run's status, progress and metrics",
        responses={200: shapes.RunDetailSerializer, **error_responses(404)},
    )
    def get(self, request, project_id, run_id):
        run, context = _run(request, project_id, run_id)
        _record_quoted_reads(request, run, context)
        return Response(shapes.RunDetailSerializer(run, context=context).data)


@extend_schema(tags=["training"])
class RunMetrics(APIView):
    @extend_schema(
        operation_id="runs_metrics",
        summary="A run's learning curves and evaluation report",
        responses={200: shapes.MetricsSerializer, **error_responses(404)},
    )
    def get(self, request, project_id, run_id):
        run, context = _run(request, project_id, run_id)
        _record_quoted_reads(request, run, context)
        return Response(
            {"status": run.status, "progress": run.progress or {}, "metrics": metrics_for(run, context["role"])}
        )


@extend_schema(tags=["training"])
class RunCancel(APIView):
    @extend_schema(
        operation_id="runs_cancel",
        summary="Cancel a run (project admins): a queued run at once, a running one after its current step",
        request=None,
        responses={200: shapes.RunDetailSerializer, **error_responses(403, 404, 409)},
    )
    def post(self, request, project_id, run_id):
        run, context = _run(request, project_id, run_id, Role.ADMIN)
        if not run.is_queued_or_running:
            return Response({"detail": f"The run has {run.status} already."}, status=status.HTTP_409_CONFLICT)
        services.cancel_run(run, actor=request.user)
        run.refresh_from_db()
        return Response(shapes.RunDetailSerializer(run, context=context).data)


@extend_schema(tags=["models"])
class ModelList(APIView):
    @extend_schema(
        operation_id="models_list",
        summary="Model versions, newest first",
        responses={200: page_of(shapes.ModelVersionSerializer), **error_responses(400, 404)},
    )
    def get(self, request, project_id):
        project = project_for(request.user, project_id)
        versions = ModelVersion.objects.filter(project=project).order_by("-created_at", "-id")
        return paginated(self, request, versions, shapes.ModelVersionSerializer)


@extend_schema(tags=["models"])
class ModelActivate(APIView):
    @extend_schema(
        operation_id="models_activate",
        summary="Make a version the one suggestions come from (project admins); pre-annotation follows",
        request=None,
        responses={200: shapes.ModelVersionSerializer, **error_responses(403, 404)},
    )
    @transaction.atomic  # whatever fails after the activation takes it back
    def post(self, request, project_id, version_id):
        project = project_for(request.user, project_id, Role.ADMIN)
        version = get_object_or_404(ModelVersion, pk=version_id, project=project)
        services.activate(version, actor=request.user)
        version.refresh_from_db()
        return Response(shapes.ModelVersionSerializer(version).data)


@extend_schema(tags=["predict"])
class Predict(APIView):
    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, PredictThrottle]

    @extend_schema(
        operation_id="predict",
        summary="Entities the active model finds in a text, with character offsets",
        description="400 for an empty or oversized text; 409 when the project has no active model, or its files are missing.",
        request=shapes.PredictRequest,
        responses={200: shapes.PredictResponse, **error_responses(400, 404, 409)},
    )
    def post(self, request, project_id):
        project = project_for(request.user, project_id)
        payload = shapes.PredictRequest(data=request.data)
        payload.is_valid(raise_exception=True)
        text = payload.validated_data["text"]
        try:
            version, found = prediction.predict(project, text)
        except prediction.ModelUnavailable as unavailable:
            return Response({"detail": str(unavailable)}, status=status.HTTP_409_CONFLICT)
        except prediction.PredictionRefused as refused:
            raise ValidationError({"detail": str(refused), "text": [str(refused)]}) from None
        prediction.log_prediction(request.user, project, version, text, via=access_log.Via.API)
        spans = [
            {
                "start": s.start,
                "end": s.end,
                "label": s.label,
                "confidence": round(s.confidence, 4),
                "text": text[s.start : s.end],
            }
            for s in found
        ]
        return Response({"model_version": version.pk, "spans": spans})
