"""Model suggestions on documents: pre-annotation, showing, accepting and rejecting, and
how much they help (per-label statistics)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Length
from django.utils import timezone

from annotation import editing
from annotation.models import Annotation, Document, Label, Project, Span
from studio.audit import record
from studio.background import (
    TAKEN,
    Heartbeat,
    WorkLost,
    recording,
    retrying,
    stale_before,
    stale_message,
)
from training.models import DocumentScore, ModelVersion, Suggestion, SuggestionDecision

logger = logging.getLogger(__name__)
BATCH = 16
Preannotation = ModelVersion.Preannotation
Decision = SuggestionDecision.Status


def visible_suggestions(
    document: Document, user, annotation: Annotation | None, version: ModelVersion | None
) -> list[Suggestion]:
    """The active `version`'s suggestions above the project's threshold that `user` has not
    decided on and that do not overlap their own spans (`annotation`'s). Marks them as shown."""
    if version is None:
        return []
    spans = list(annotation.spans.values_list("start", "end")) if annotation else []
    suggestions = [
        suggestion
        for suggestion in Suggestion.objects.open_for(user)
        .filter(
            document=document,
            model_version=version,
            confidence__gte=document.project.suggestion_threshold,
        )
        .select_related("label")
        if not any(suggestion.start < end and start < suggestion.end for start, end in spans)
    ]
    unseen = [s.pk for s in suggestions if s.shown_at is None]
    if unseen:
        Suggestion.objects.filter(pk__in=unseen, shown_at__isnull=True).update(shown_at=timezone.now())
    return suggestions


def pending_suggestion(document: Document, user, suggestion_id: int) -> Suggestion:
    suggestion = (
        Suggestion.objects.open_for(user)
        .filter(pk=suggestion_id, document=document)
        .select_related("label", "model_version")
        .first()
    )
    if suggestion is None:
        raise editing.EditRejected("That suggestion was already accepted or rejected.")
    return suggestion


def accept(
    annotation: Annotation,
    suggestion: Suggestion,
    *,
    version: int,
    user,
    label: Label | None = None,
    first_token: int | None = None,
    last_token: int | None = None,
) -> editing.EditResult:
    """Turn a suggestion into a span; a changed label or changed edges count as an edit."""
    label = label or suggestion.label
    first = suggestion.first_token if first_token is None else first_token
    last = suggestion.last_token if last_token is None else last_token
    edited = label.pk != suggestion.label_id or (first, last) != (suggestion.first_token, suggestion.last_token)
    with transaction.atomic():
        result = editing.add_span(
            annotation,
            version=version,
            first_token=first,
            last_token=last,
            label=label,
            source=Span.Source.SUGGESTION,
            model_version=suggestion.model_version,
            edited_before_accept=edited,
        )
        _decide(suggestion, Decision.EDITED if edited else Decision.ACCEPTED, user)
    result.touched.append((suggestion.start, suggestion.end))
    result.message = f"Accepted {label.name}{' after an edit' if edited else ''}."
    return result


def reject(annotation: Annotation, suggestion: Suggestion, *, version: int, user) -> editing.EditResult:
    if annotation.version != version:
        raise editing.VersionConflict(annotation.version)
    _decide(suggestion, Decision.REJECTED, user)
    return editing.EditResult(annotation, [(suggestion.start, suggestion.end)], "Suggestion rejected.")


def accept_all(annotation: Annotation, *, version: int, user) -> editing.EditResult:
    document = annotation.document
    suggestions = visible_suggestions(document, user, annotation, ModelVersion.objects.active_for(document.project))
    if not suggestions:
        raise editing.EditRejected("There are no suggestions to accept.")
    touched = []
    for suggestion in suggestions:
        result = accept(annotation, suggestion, version=version, user=user)
        annotation, version = result.annotation, result.annotation.version
        touched += result.touched
    return editing.EditResult(annotation, touched, f"Accepted {len(suggestions)} suggestions.")


def reject_all(annotation: Annotation, *, version: int, user) -> editing.EditResult:
    if annotation.version != version:
        raise editing.VersionConflict(annotation.version)
    document = annotation.document
    suggestions = visible_suggestions(document, user, annotation, ModelVersion.objects.active_for(document.project))
    for suggestion in suggestions:
        _decide(suggestion, Decision.REJECTED, user)
    touched = [(s.start, s.end) for s in suggestions]
    return editing.EditResult(annotation, touched, f"Rejected {len(suggestions)} suggestions.")


def suggestion_touching(document: Document, user, start: int, end: int) -> Suggestion | None:
    """A suggestion of the active model that `user` has not decided on, overlapping
    [start, end): tagging there by hand accepts it with edited edges or label."""
    version = ModelVersion.objects.active_for(document.project)
    if version is None:
        return None
    return (
        Suggestion.objects.open_for(user)
        .filter(document=document, model_version=version, start__lt=end, end__gt=start)
        .select_related("label", "model_version")
        .first()
    )


def _decide(suggestion: Suggestion, status: str, user) -> None:
    SuggestionDecision.objects.update_or_create(
        suggestion=suggestion, user=user, defaults={"status": status, "decided_at": timezone.now()}
    )
    record(
        user,
        f"suggestion.{status}",
        project_id=suggestion.label.project_id,
        document_id=suggestion.document_id,
        obj=suggestion,
        after={"label": suggestion.label.name, "start": suggestion.start, "end": suggestion.end},
    )
    if suggestion.shown_at is None:
        Suggestion.objects.filter(pk=suggestion.pk, shown_at__isnull=True).update(shown_at=timezone.now())


def documents_to_preannotate(project: Project):
    finished = Annotation.objects.filter(document__project=project, status__in=Annotation.FINISHED).values(
        "document_id"
    )
    return Document.objects.filter(project=project).exclude(pk__in=finished).order_by("pk")


def preannotate(version_id: int) -> None:
    """Suggest spans on every unfinished document with this version, and score how unsure
    the model is about each one (for active learning)."""
    from training.inference import load_predictor

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


def statistics(version: ModelVersion) -> list[dict]:
    """Per label: suggestions shown, and the annotators' decisions on them (accepted as is,
    after an edit, rejected; one per annotator), with the model's precision as they see it."""
    rows = (
        Suggestion.objects.filter(model_version=version, shown_at__isnull=False)
        .values("label__name")
        .annotate(
            shown=Count("pk", distinct=True),
            accepted=Count("decisions", filter=Q(decisions__status=Decision.ACCEPTED)),
            edited=Count("decisions", filter=Q(decisions__status=Decision.EDITED)),
            rejected=Count("decisions", filter=Q(decisions__status=Decision.REJECTED)),
        )
        .order_by("label__name")
    )
    result = []
    for row in rows:
        decided = row["accepted"] + row["edited"] + row["rejected"]
        result.append(
            {
                "label": row["label__name"],
                "shown": row["shown"],
                "accepted": row["accepted"],
                "edited": row["edited"],
                "rejected": row["rejected"],
                "precision": (row["accepted"] + row["edited"]) / decided if decided else None,
            }
        )
    return result


class PredictionRefused(Exception):
    """No prediction is possible; the message says why."""


class ModelUnavailable(PredictionRefused):
    """The project has no usable active model: none yet, or its files are gone."""


def predict_text(project: Project, text: str) -> tuple[ModelVersion, list]:
    """Entities the active model finds in any text (the "Try it" page and the API)."""
    from training.inference import load_predictor

    if not isinstance(text, str) or not text.strip():
        raise PredictionRefused("Type or paste some text to see what the model finds.")
    if "\0" in text:
        raise PredictionRefused("The text contains a NUL character.")
    limit = settings.PREDICT_MAX_CHARACTERS
    if len(text) > limit:
        raise PredictionRefused(f"The text has {len(text):,} characters; the limit is {limit:,}.")
    version = ModelVersion.objects.active_for(project)
    if version is None:
        raise ModelUnavailable("This project has no active model yet: train one first.")
    try:
        predictor = load_predictor(version.artifact_path)
    except Exception as error:  # a missing or damaged model directory fails in many ways
        logger.exception("model %s could not be loaded", version.pk)
        raise ModelUnavailable(f"The active model (v{version.pk}) could not be loaded: {error}") from None
    return version, predictor.predict_text(text).suggestions
