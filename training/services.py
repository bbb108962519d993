"""Training runs and model versions: start, execute (in the worker), cancel, activate, clean up."""

import logging
import shutil
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, When
from django.utils import timezone

from annotation.audit import record
from annotation.bio import tags_to_token_spans
from annotation.models import Annotation, Document, Project
from annotation.services import lock_project
from training.base_model import default_base_model
from training.models import ModelVersion, TrainingRun
from training.pipeline import (
    Hyperparameters,
    TrainingCancelled,
    TrainingDataError,
    TrainingDocument,
    train,
)

logger = logging.getLogger(__name__)
FEW_EXAMPLES = 5
LOSS_POINTS = 400  # the loss curve keeps at most this many points
FINISHED = [Annotation.Status.SUBMITTED, Annotation.Status.REVIEWED]


class TrainingRefused(Exception):
    """Training cannot start; the message says what to do about it."""


class RunAlreadyActive(TrainingRefused):
    def __init__(self, run: TrainingRun):
        self.run = run
        super().__init__(f"Run {run.pk} is already {run.get_status_display().lower()} for this project.")


def base_model() -> str:
    return settings.BASE_MODEL or default_base_model()


def training_annotations(project: Project) -> list[Annotation]:
    """One finished annotation per document: reviewed (gold) first, else (unless the project
    trains on gold only) the latest submitted."""
    chosen: dict[int, Annotation] = {}
    gold_first = Case(When(status=Annotation.Status.REVIEWED, then=0), default=1)
    statuses = [Annotation.Status.REVIEWED] if project.training_source == Project.TrainingSource.GOLD_ONLY else FINISHED
    annotations = (
        Annotation.objects.filter(document__project=project, status__in=statuses)
        .select_related("document")
        .order_by("document_id", gold_first, "-updated_at")
    )
    for annotation in annotations:
        chosen.setdefault(annotation.document_id, annotation)
    return list(chosen.values())


def training_documents(annotations: list[Annotation]) -> list[TrainingDocument]:
    documents = []
    for annotation in annotations:
        document: Document = annotation.document
        offsets = list(zip(document.token_starts, document.token_ends))
        documents.append(
            TrainingDocument(
                doc_id=str(document.pk),
                tokens=[document.text[s:e] for s, e in offsets],
                tags=list(annotation.bio_tags),
                is_dev=document.is_dev,
                text=document.text,
                token_offsets=offsets,
            )
        )
    return documents


def check_training_data(project: Project) -> tuple[list[Annotation], list[str]]:
    """The annotations a run would use, and warnings; refuses when training cannot work."""
    annotations = training_annotations(project)
    minimum = settings.TRAINING_MIN_DOCUMENTS
    if len(annotations) < minimum:
        raise TrainingRefused(
            f"Training needs at least {minimum} submitted documents; this project has "
            f"{len(annotations)}. Submit more documents first."
        )
    examples = Counter(
        label for annotation in annotations for _, _, label in tags_to_token_spans(annotation.bio_tags)
    )
    labels = list(project.labels.values_list("name", flat=True))
    missing = [label for label in labels if not examples[label]]
    if missing:
        names = ", ".join(missing)
        raise TrainingRefused(
            f"The label{'s' if len(missing) > 1 else ''} {names} "
            f"ha{'ve' if len(missing) > 1 else 's'} no examples in submitted documents. "
            "Tag some, or delete the label in the project settings."
        )
    warnings = [
        f"{label} has only {examples[label]} example{'s' if examples[label] != 1 else ''}; "
        "its scores will be unreliable."
        for label in labels
        if examples[label] < FEW_EXAMPLES
    ]
    return annotations, warnings


def start_run(project: Project, user, hyperparameters: dict | None = None, *, enqueue=True) -> TrainingRun:
    try:
        hp = Hyperparameters.from_dict(hyperparameters or {})
    except (TypeError, ValueError) as error:
        raise TrainingRefused(f"Bad hyperparameters: {error}") from None
    _annotations, warnings = check_training_data(project)
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                project=project,
                started_by=user,
                hyperparameters=hp.to_dict(),
                base_model=base_model(),
                warnings=warnings,
            )
            record(user, "training.start", project_id=project.pk, obj=run, after=run.hyperparameters)
    except IntegrityError:
        active = TrainingRun.objects.filter(project=project, status__in=TrainingRun.ACTIVE_STATUSES).first()
        if active is None:  # the other run ended in between; the user can simply try again
            raise TrainingRefused("Another run just finished; start again.") from None
        raise RunAlreadyActive(active) from None
    if enqueue:
        from training.tasks import train_task

        transaction.on_commit(lambda: train_task(run.pk))
    return run


def cancel_run(run: TrainingRun) -> None:
    """A queued run is cancelled now; a running one stops within one training step."""
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(cancel_requested=True)


def run_directory(run: TrainingRun) -> Path:
    return Path(settings.MODELS_ROOT) / f"project-{run.project_id}" / f"run-{run.pk}"


def execute_run(run_id: int, *, echo=None) -> None:
    """The worker's side of a run: train with progress and heartbeats, then record the outcome.

    `echo`, when given, also receives every pipeline Progress (the shell command prints them).
    """
    started = TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    if not started:
        return  # cancelled while queued, or taken by another worker
    run = TrainingRun.objects.select_related("project").get(pk=run_id)
    reporter = _ProgressReporter(run.pk, echo)
    try:
        annotations, _warnings = check_training_data(run.project)
        snapshot = [
            {"document": a.document_id, "annotation": a.pk, "version": a.version} for a in annotations
        ]
        TrainingRun.objects.filter(pk=run.pk).update(data_snapshot=snapshot)
        result = train(
            training_documents(annotations),
            list(run.project.labels.values_list("name", flat=True)),
            Hyperparameters.from_dict(run.hyperparameters),
            base_model=run.base_model or base_model(),
            output_dir=run_directory(run),
            on_progress=reporter.progress,
            should_stop=reporter.should_stop,
        )
    except TrainingCancelled:
        _finish(run.pk, TrainingRun.Status.CANCELLED, progress=reporter.snapshot())
    except (TrainingRefused, TrainingDataError, ValueError, OSError) as error:
        _finish(run.pk, TrainingRun.Status.FAILED, error=str(error), progress=reporter.snapshot())
    except Exception as error:  # a bug or the machine; the page must still say what happened
        logger.exception("training run %s failed", run.pk)
        _finish(run.pk, TrainingRun.Status.FAILED, error=f"{type(error).__name__}: {error}", progress=reporter.snapshot())
    else:
        _succeed(run, result, reporter.snapshot())


def _succeed(run: TrainingRun, result, progress: dict) -> None:
    metrics = {
        "evaluation": result.evaluation,
        "dev_f1_per_epoch": result.dev_f1_per_epoch,
        "epoch_loss": result.epoch_loss,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "train_seconds": result.train_seconds,
        "train_examples_per_second": result.train_examples_per_second,
        "runtime": result.runtime,
    }
    with transaction.atomic():
        _finish(run.pk, TrainingRun.Status.SUCCEEDED, metrics=metrics, progress=progress)
        version = ModelVersion.objects.create(project=run.project, run=run, artifact_path=str(result.model_dir))
        active = ModelVersion.objects.filter(project=run.project, is_active=True).select_related("run").first()
        score = _micro_f1(version.run)
        # A model that finds nothing on dev would only fill the labelling page with noise.
        if score > 0 and (active is None or score >= _micro_f1(active.run)):
            activate(version)


def _micro_f1(run: TrainingRun) -> float:
    run.refresh_from_db(fields=["metrics"])
    evaluation = (run.metrics or {}).get("evaluation") or {}
    return evaluation.get("micro", {}).get("f1", 0.0)


def _finish(run_id: int, status: str, *, error="", metrics=None, progress=None) -> None:
    fields = {"status": status, "finished_at": timezone.now(), "error": error}
    if metrics is not None:
        fields["metrics"] = metrics
    if progress is not None:
        fields["progress"] = progress
    TrainingRun.objects.filter(pk=run_id).update(**fields)


class _ProgressReporter:
    """Writes progress and the heartbeat at most once a second, and checks for cancel."""

    def __init__(self, run_id: int, echo=None):
        self.run_id = run_id
        self.echo = echo
        self.losses: list[tuple[int, float]] = []
        self.latest: dict = {}
        self.last_write = 0.0

    def progress(self, progress) -> None:
        if progress.loss is not None and progress.phase == "train":
            self.losses.append((progress.step, round(progress.loss, 5)))
        self.latest = progress.to_dict()
        if self.echo:
            self.echo(progress)
        if time.monotonic() - self.last_write >= 1.0 or progress.phase == "evaluated":
            self._write()

    def should_stop(self) -> bool:
        if time.monotonic() - self.last_write >= 1.0:
            self._write()
        return TrainingRun.objects.filter(pk=self.run_id, cancel_requested=True).exists()

    def snapshot(self) -> dict:
        stride = max(1, len(self.losses) // LOSS_POINTS)
        return {**self.latest, "loss": self.losses[::stride]}

    def _write(self) -> None:
        self.last_write = time.monotonic()
        TrainingRun.objects.filter(pk=self.run_id).update(
            progress=self.snapshot(), heartbeat_at=timezone.now()
        )


def fail_stale_runs() -> int:
    """Runs whose worker stopped beating (killed, machine lost) end as failed."""
    limit = timezone.now() - timedelta(seconds=settings.TRAINING_HEARTBEAT_TIMEOUT)
    return TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING, heartbeat_at__lt=limit).update(
        status=TrainingRun.Status.FAILED,
        error="worker stopped: no heartbeat from the training worker",
        finished_at=timezone.now(),
    )


@transaction.atomic
def activate(version: ModelVersion, *, preannotate=True, actor=None) -> None:
    """Make `version` the one suggestions come from, and pre-annotate with it in the worker."""
    lock_project(version.project)
    previous = ModelVersion.objects.filter(project=version.project_id, is_active=True).first()
    record(
        actor, "model.activate", project_id=version.project_id, obj=version,
        before={"active": previous.pk if previous else None}, after={"active": version.pk},
    )
    ModelVersion.objects.filter(project=version.project_id, is_active=True).exclude(pk=version.pk).update(
        is_active=False
    )
    ModelVersion.objects.filter(pk=version.pk).update(
        is_active=True, preannotation_status="queued" if preannotate else ""
    )
    if preannotate:
        from training.tasks import preannotate_task

        transaction.on_commit(lambda: preannotate_task(version.pk))


def delete_version(version: ModelVersion) -> None:
    """Delete the version and free its disk. Spans accepted from it keep their text."""
    path = Path(version.artifact_path)
    with transaction.atomic():
        version.delete()
    if path.is_dir() and Path(settings.MODELS_ROOT) in path.resolve().parents:
        shutil.rmtree(path, ignore_errors=True)
