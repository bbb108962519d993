"""Pre-annotation: a newly active model suggests spans on every unfinished document in the
background, and scores how unsure it is about each one (for active learning)."""

import logging
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
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
from training.models import DocumentScore, ModelVersion, PreannotationChunk, Suggestion

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
    the model is about each one (for active learning).

    The documents are split into chunks; this consumer asks up to PREANNOTATION_HELPERS
    others to help, and all of them take chunks until none are left.
    """
    version = retrying(lambda: ModelVersion.objects.select_related("project").get(pk=version_id))
    ids = retrying(lambda: list(documents_to_preannotate(version.project).values_list("pk", flat=True)))
    size = settings.PREANNOTATION_CHUNK_DOCUMENTS
    chunks = [ids[first : first + size] for first in range(0, len(ids), size)]
    retrying(lambda: _start(version, ids, chunks))
    from training.tasks import preannotate_chunks_task

    for _ in range(min(settings.PREANNOTATION_HELPERS, len(chunks) - 1)):
        transaction.on_commit(lambda: preannotate_chunks_task(version.pk))
    take_chunks(version.pk)


@transaction.atomic
def _start(version, ids, chunks) -> None:
    now = timezone.now()
    PreannotationChunk.objects.filter(model_version=version).delete()  # an earlier attempt's
    PreannotationChunk.objects.bulk_create(
        PreannotationChunk(model_version=version, number=number, document_ids=chunk, size=len(chunk))
        for number, chunk in enumerate(chunks)
    )
    ModelVersion.objects.filter(pk=version.pk).update(
        preannotation_status=Preannotation.RUNNING,
        preannotation_done=0,
        preannotation_total=len(ids),
        preannotation_error="",
        preannotation_heartbeat_at=now,
        preannotation_started_at=now,
        preannotation_characters=characters(Document.objects.filter(pk__in=ids)),
    )


def take_chunks(version_id: int) -> None:
    """Take the version's chunks one at a time until all are stored, then mark it done.

    While chunks remain that other consumers hold, wait for them: one whose consumer
    stops beating is taken over where it stopped.
    """
    me = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    held = {"chunk": None}

    def beat() -> str:
        now = timezone.now()
        if held["chunk"] is not None:
            if not PreannotationChunk.objects.filter(pk=held["chunk"], worker=me).update(heartbeat_at=now):
                return TAKEN
        running = ModelVersion.objects.filter(pk=version_id, preannotation_status=Preannotation.RUNNING)
        return "" if running.update(preannotation_done=_stored(version_id), preannotation_heartbeat_at=now) else TAKEN

    with Heartbeat(beat) as heartbeat:
        try:
            while True:
                heartbeat.check()
                chunk = retrying(lambda: _claim(version_id, me))
                if chunk is None:
                    if retrying(lambda: _finish(version_id)):
                        return
                    heartbeat.stopped.wait(settings.HEARTBEAT_SECONDS)
                    continue
                held["chunk"] = chunk.pk
                _work_on(chunk, me, heartbeat)
                held["chunk"] = None
        except WorkLost:
            if heartbeat.taken:
                logger.info("pre-annotation with model %s is no longer this consumer's; it stops", version_id)
                return
            error = heartbeat.reason
        except Exception as failure:  # the page must say why suggestions are missing
            logger.exception("pre-annotation with model %s failed", version_id)
            error = f"{type(failure).__name__}: {failure}"
    recording(
        lambda: ModelVersion.objects.filter(pk=version_id, preannotation_status=Preannotation.RUNNING).update(
            preannotation_status=Preannotation.FAILED, preannotation_done=_stored(version_id), preannotation_error=error
        )
    )


def _claim(version_id: int, me: str):
    """The next chunk nobody works on (or whose consumer stopped beating), now this one's."""
    with transaction.atomic():
        free = Q(worker="") | Q(heartbeat_at__lt=stale_before())
        chunk = (
            PreannotationChunk.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(free, model_version_id=version_id, done__lt=F("size"))
            .filter(model_version__preannotation_status=Preannotation.RUNNING)
            .select_related("model_version__project")
            .first()
        )
        if chunk is not None:
            chunk.worker, chunk.heartbeat_at = me, timezone.now()
            chunk.save(update_fields=["worker", "heartbeat_at"])
        return chunk


def _work_on(chunk, me: str, heartbeat: Heartbeat) -> None:
    from training.ml.inference import load_predictor

    version = chunk.model_version
    predictor = load_predictor(version.artifact_path)
    labels = retrying(lambda: {label.name: label for label in version.project.labels.all()})
    for first in range(chunk.done, chunk.size, BATCH):
        heartbeat.check()
        batch = chunk.document_ids[first : first + BATCH]
        retrying(lambda batch=batch: _store_predictions(version, batch, predictor, labels, chunk, me))
        chunk.done += len(batch)


def _finish(version_id: int) -> bool:
    """Mark the version done once every chunk is stored; False while some are not."""
    if PreannotationChunk.objects.filter(model_version_id=version_id, done__lt=F("size")).exists():
        return False
    ModelVersion.objects.filter(pk=version_id, preannotation_status=Preannotation.RUNNING).update(
        preannotation_status=Preannotation.DONE, preannotation_done=F("preannotation_total")
    )
    return True


def _stored(version_id: int) -> int:
    chunks = PreannotationChunk.objects.filter(model_version_id=version_id)
    return chunks.aggregate(n=Sum("done"))["n"] or 0


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


def _store_predictions(version, batch: list[int], predictor, labels, chunk, me: str) -> None:
    """Store the suggestions and scores of the chunk's next documents with its progress, in
    one transaction, only while the chunk is still this consumer's."""
    documents = list(Document.objects.filter(pk__in=batch).order_by("pk"))  # some may be deleted meanwhile
    predictions = predictor.predict_many([(d.text, d.token_starts, d.token_ends) for d in documents])
    with transaction.atomic():
        mine = PreannotationChunk.objects.filter(pk=chunk.pk, worker=me, done=chunk.done)
        if not mine.update(done=F("done") + len(batch), heartbeat_at=timezone.now()):
            raise WorkLost(TAKEN)
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
