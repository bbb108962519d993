"""Pre-annotation: a newly active model suggests spans on every unfinished document in the
background, and scores how unsure it is about each one (for active learning)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Length
from django.utils import timezone

from annotation.models import Annotation, Document, Project
from studio import access_log
from studio.background import (
    TAKEN,
    Heartbeat,
    WorkLost,
    recording,
    retrying,
    stale_before,
    stale_message,
)
from training.models import DocumentScore, ModelVersion, Suggestion

logger = logging.getLogger(__name__)
BATCH = 16
Preannotation = ModelVersion.Preannotation


def documents_to_preannotate(project: Project):
    finished = Annotation.objects.filter(document__project=project, status__in=Annotation.FINISHED).values(
        "document_id"
    )
    return Document.objects.filter(project=project).exclude(pk__in=finished).order_by("pk")


def preannotate(version_id: int) -> None:
    """Suggest spans on every unfinished document with this version, and score how unsure
    the model is about each one (for active learning)."""
    from training.ml.inference import load_predictor

    version = retrying(lambda: ModelVersion.objects.select_related("project").get(pk=version_id))
    ids = retrying(lambda: list(documents_to_preannotate(version.project).values_list("pk", flat=True)))
    labels = retrying(lambda: {label.name: label for label in version.project.labels.all()})
    now = timezone.now()
    retrying(
        lambda: ModelVersion.objects.filter(pk=version.pk).update(
            preannotation_status=Preannotation.RUNNING,
            preannotation_done=0,
            preannotation_total=len(ids),
            preannotation_error="",
            preannotation_heartbeat_at=now,
            preannotation_started_at=now,
            preannotation_characters=characters(Document.objects.filter(pk__in=ids)),
        )
    )
    progress = {"done": 0}

    def beat() -> str:
        running = ModelVersion.objects.filter(pk=version.pk, preannotation_status=Preannotation.RUNNING)
        updated = running.update(preannotation_done=progress["done"], preannotation_heartbeat_at=timezone.now())
        return "" if updated else TAKEN

    with Heartbeat(beat) as heartbeat:
        try:
            predictor = load_predictor(version.artifact_path)
            for first in range(0, len(ids), BATCH):
                heartbeat.check()
                batch = ids[first : first + BATCH]
                documents = Document.objects.filter(pk__in=batch).order_by("pk")
                retrying(lambda documents=documents: _store_predictions(version, documents, predictor, labels))
                progress["done"] += len(batch)
        except WorkLost:
            if heartbeat.taken:
                logger.warning("pre-annotation with model %s was taken from this worker; it stops", version.pk)
                return
            error = heartbeat.reason
        except Exception as failure:  # the page must say why suggestions are missing
            logger.exception("pre-annotation with model %s failed", version.pk)
            error = f"{type(failure).__name__}: {failure}"
        else:
            error = ""
    status, done = (Preannotation.FAILED, progress["done"]) if error else (Preannotation.DONE, len(ids))
    recording(
        lambda: ModelVersion.objects.filter(pk=version.pk, preannotation_status=Preannotation.RUNNING).update(
            preannotation_status=status, preannotation_done=done, preannotation_error=error
        )
    )


def characters(documents) -> int:
    return documents.aggregate(n=Sum(Length("text")))["n"] or 0


def preannotation_quota_refusal(project: Project) -> str:
    """Why pre-annotating the project's unfinished documents now would pass the project's
    hourly quota (PREANNOTATION_CHARACTERS_PER_HOUR) of text read by the model; "" if not."""
    since = timezone.now() - timedelta(hours=1)
    recent = ModelVersion.objects.filter(project=project, preannotation_started_at__gte=since)
    used = recent.aggregate(n=Sum("preannotation_characters"))["n"] or 0
    needed = characters(documents_to_preannotate(project))
    limit = settings.PREANNOTATION_CHARACTERS_PER_HOUR
    if used + needed <= limit or not used:  # one run alone is never refused, however large
        return ""
    first = recent.order_by("preannotation_started_at").values_list("preannotation_started_at", flat=True).first()
    again = timezone.localtime(first + timedelta(hours=1))
    return (
        f"This project has pre-annotated {used:,} characters in the last hour; with {needed:,} more it would pass "
        f"its quota of {limit:,}. Retry after {again:%H:%M}."
    )


def fail_stale_preannotations(project=None) -> int:
    """Pre-annotation whose worker stopped beating ends as failed (the page offers to retry)."""
    versions = ModelVersion.objects.filter(
        preannotation_status=Preannotation.RUNNING, preannotation_heartbeat_at__lt=stale_before()
    )
    if project is not None:
        versions = versions.filter(project=project)
    return versions.update(preannotation_status=Preannotation.FAILED, preannotation_error=stale_message())


def _store_predictions(version, documents, predictor, labels) -> None:
    documents = list(documents)
    predictions = predictor.predict_many([(d.text, d.token_starts, d.token_ends) for d in documents])
    with transaction.atomic():
        Suggestion.objects.filter(model_version=version, document__in=documents, decisions__isnull=True).delete()
        Suggestion.objects.bulk_create(
            [
                Suggestion(
                    document=document,
                    model_version=version,
                    label=labels[s.label],
                    start=s.start,
                    end=s.end,
                    first_token=s.first_token,
                    last_token=s.last_token,
                    confidence=min(1.0, max(0.0, s.confidence)),
                )
                for document, prediction in zip(documents, predictions)
                for s in prediction.suggestions
                if s.label in labels
            ],
            ignore_conflicts=True,  # decided suggestions stay, with their decisions
        )
        DocumentScore.objects.bulk_create(
            [
                DocumentScore(
                    document=document,
                    model_version=version,
                    min_max_probability=prediction.min_max_probability,
                    mean_entropy=prediction.mean_entropy,
                    expected_counts=prediction.expected_counts,
                )
                for document, prediction in zip(documents, predictions)
            ],
            update_conflicts=True,
            unique_fields=["model_version", "document"],
            update_fields=["min_max_probability", "mean_entropy", "expected_counts"],
        )
        access_log.record(
            None,
            access_log.Action.PREDICT,
            via=access_log.Via.WORKER,
            project=version.project,
            documents=documents,
            detail=f"pre-annotation, model v{version.pk}",
        )
