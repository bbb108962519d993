"""Training runs and model versions: start, execute (in the worker), cancel, activate, clean up."""

import logging
import re
import shutil
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from annotation.models import Annotation, Document, Project
from annotation.services import lock_project
from annotation.text.bio import tags_to_token_spans
from studio.audit import record
from studio.background import (
    CANCELLED,
    STALE,
    TAKEN,
    Heartbeat,
    recording,
    retrying,
    stale_before,
    stale_message,
)
from training.ml.base_model import default_base_model
from training.ml.data import Hyperparameters, TrainingCancelled, TrainingDataError, TrainingDocument, defaults_for
from training.models import ModelVersion, TrainingRun
from training.preannotation import preannotation_quota_refusal

logger = logging.getLogger(__name__)
FEW_EXAMPLES = 5
LOSS_POINTS = 400  # the loss curve keeps at most this many points


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
    statuses = (
        [Annotation.Status.REVIEWED]
        if project.training_source == Project.TrainingSource.GOLD_ONLY
        else Annotation.FINISHED
    )
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
    examples = Counter(label for annotation in annotations for _, _, label in tags_to_token_spans(annotation.bio_tags))
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


def default_options(annotations: list[Annotation]) -> dict:
    """The options a run on these annotations takes where none are given (more of them on a
    large corpus)."""
    return defaults_for(sum(len(annotation.document.token_starts) for annotation in annotations))


def start_run(project: Project, user, hyperparameters: dict | None = None, *, enqueue=True) -> TrainingRun:
    """Queue a run with `hyperparameters`; options not given take `default_options`."""
    try:
        Hyperparameters.from_dict(hyperparameters or {})
    except (TypeError, ValueError) as error:
        raise TrainingRefused(f"Bad hyperparameters: {error}") from None
    annotations, warnings = check_training_data(project)
    hp = Hyperparameters.from_dict({**default_options(annotations), **(hyperparameters or {})})
    fail_stale_runs(project)  # a dead run must not refuse this one
    if user is not None:
        mine = TrainingRun.objects.filter(started_by=user, status__in=TrainingRun.QUEUED_OR_RUNNING).count()
        if mine >= settings.MAX_ACTIVE_RUNS_PER_USER:
            raise TrainingRefused(
                f"You have {mine} runs queued or running, the most one person may; wait for one to finish."
            )
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
        active = TrainingRun.objects.filter(project=project, status__in=TrainingRun.QUEUED_OR_RUNNING).first()
        if active is None:  # the other run ended in between; the user can simply try again
            raise TrainingRefused("Another run just finished; start again.") from None
        raise RunAlreadyActive(active) from None
    if enqueue:
        from training.tasks import train_task

        transaction.on_commit(lambda: train_task(run.pk))
    return run


def cancel_run(run: TrainingRun, *, actor=None) -> None:
    """A queued run is cancelled now; a running one at its next heartbeat, within about a second."""
    with transaction.atomic():
        queued = TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.QUEUED).update(
            status=TrainingRun.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
        )
        running = TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(cancel_requested=True)
        if queued or running:
            record(actor, "training.cancel", project_id=run.project_id, obj=run, before={"status": run.status})


def run_directory(run: TrainingRun) -> Path:
    return Path(settings.MODELS_ROOT) / f"project-{run.project_id}" / f"run-{run.pk}"


def execute_run(run_id: int, *, echo=None, processes: int | None = None) -> None:
    """The worker's side of a run: train with progress and heartbeats, then record the outcome.

    The run is this worker's only while it is running: a run marked failed meanwhile (no
    heartbeat, say while the worker was paused) or cancelled stops at the next step, and a
    result that comes too late is discarded rather than registered.

    `echo`, when given, also receives every pipeline Progress (the shell command prints them).
    `processes`: training processes (DistributedDataParallel; default `TRAINING_PROCESSES`).
    """
    now = timezone.now()
    started = retrying(
        lambda: TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
            status=TrainingRun.Status.RUNNING, started_at=now, heartbeat_at=now
        )
    )
    if not started:
        return  # cancelled while queued, or taken by another worker
    run = retrying(lambda: TrainingRun.objects.select_related("project").get(pk=run_id))
    reporter = _ProgressReporter(run.pk, echo)
    outcome = None  # (status, error) when the run did not produce a model
    processes = settings.TRAINING_PROCESSES if processes is None else processes
    with Heartbeat(reporter.beat) as heartbeat:
        try:
            result = _train(run, reporter, heartbeat, processes)
        except TrainingCancelled:
            outcome = (TrainingRun.Status.CANCELLED, "")
        except (TrainingRefused, TrainingDataError, ValueError, OSError) as error:
            outcome = (TrainingRun.Status.FAILED, str(error))
        except Exception as error:  # a bug, the machine or the database; the page must still say what
            logger.exception("training run %s failed", run.pk)
            outcome = (TrainingRun.Status.FAILED, f"{type(error).__name__}: {error}")
    if heartbeat.taken:
        recording(lambda: _discard_late_result(run))
        return
    if heartbeat.database_gone:
        outcome = (TrainingRun.Status.FAILED, heartbeat.reason)
    if outcome is None:
        recording(lambda: _succeed(run, result, reporter.snapshot()))
    else:
        status, error = outcome
        recording(lambda: _finish_unsuccessfully(run, status, error, reporter.snapshot()))


def _train(run: TrainingRun, reporter, heartbeat: Heartbeat, processes: int):
    annotations, _warnings = retrying(lambda: check_training_data(run.project))
    snapshot = [{"document": a.document_id, "annotation": a.pk, "version": a.version} for a in annotations]
    retrying(lambda: TrainingRun.objects.filter(pk=run.pk).update(data_snapshot=snapshot))
    labels = retrying(lambda: list(run.project.labels.values_list("name", flat=True)))
    hp = Hyperparameters.from_dict(run.hyperparameters)
    unlabelled = retrying(lambda: unlabelled_texts(run.project, annotations)) if hp.mlm_epochs else []
    from training.ml.pipeline import train  # torch loads in the worker that trains, not in web processes

    return train(
        training_documents(annotations),
        labels,
        hp,
        base_model=run.base_model or base_model(),
        output_dir=run_directory(run),
        on_progress=reporter.progress,
        should_stop=heartbeat.stopped.is_set,
        unlabelled=unlabelled,
        processes=processes,
    )


def unannotated_documents(project_id: int, annotations: list[Annotation]):
    """The project's documents that no training annotation covers, dev documents left out: the
    text masked-language-model pretraining may learn from besides the training split."""
    return (
        Document.objects.filter(project_id=project_id)
        .exclude(pk__in=[a.document_id for a in annotations])
        .exclude(is_dev=True)
    )


def unlabelled_texts(project: Project, annotations: list[Annotation]) -> list[list[str]]:
    documents = unannotated_documents(project.pk, annotations).values_list("text", "token_starts", "token_ends")
    return [[text[s:e] for s, e in zip(starts, ends)] for text, starts, ends in documents.iterator()]


def _succeed(run: TrainingRun, result, progress: dict) -> None:
    metrics = {
        "evaluation": result.evaluation,
        "dev_f1_per_epoch": result.dev_f1_per_epoch,
        "epoch_loss": result.epoch_loss,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "train_seconds": result.train_seconds,
        "train_examples_per_second": result.train_examples_per_second,
        "words_seen": result.words_seen,
        "runtime": result.runtime,
        "calibration": result.calibration,
        "pretraining": result.pretraining,
    }
    with transaction.atomic():
        if not _finish(run.pk, TrainingRun.Status.SUCCEEDED, metrics=metrics, progress=progress):
            if ModelVersion.objects.filter(run=run.pk).exists():
                return  # this very write committed before its connection dropped
            _discard_late_result(run)
            return
        version = ModelVersion.objects.create(project=run.project, run=run, artifact_path=str(result.model_dir))
        active = ModelVersion.objects.active_for(run.project)
        score = _micro_f1(version.run)
        # A model that finds nothing on dev would only fill the labelling page with noise.
        if score > 0 and (active is None or score >= _micro_f1(active.run)):
            activate(version)


def _finish_unsuccessfully(run: TrainingRun, status: str, error: str, progress: dict) -> None:
    if not _finish(run.pk, status, error=error, progress=progress) and status == TrainingRun.Status.FAILED:
        # Declared dead while it was failing for a reason of its own (the database was down
        # longer than the heartbeat timeout, say): the real reason says more.
        TrainingRun.objects.filter(pk=run.pk, status=status, error__startswith=STALE).update(error=error)
    sweep_run_leftovers([run.pk])


def _discard_late_result(run: TrainingRun) -> None:
    current = TrainingRun.objects.get(pk=run.pk)
    logger.warning(
        "run %s is %s (%s) and no longer this worker's: its result is discarded",
        run.pk,
        current.status,
        current.error or "no error",
    )
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.FAILED).exclude(error__contains=LATE_NOTE).update(
        error=Concat(F("error"), Value(LATE_NOTE))
    )
    sweep_run_leftovers([run.pk])


LATE_NOTE = " The worker came back later; what it produced was discarded."


def _micro_f1(run: TrainingRun) -> float:
    run.refresh_from_db(fields=["metrics"])
    evaluation = (run.metrics or {}).get("evaluation") or {}
    return evaluation.get("micro", {}).get("f1", 0.0)


def _finish(run_id: int, status: str, *, error="", metrics=None, progress=None) -> bool:
    """End a running run; False when it is not running any more (failed, cancelled or finished
    elsewhere), in which case nothing changes."""
    fields = {"status": status, "finished_at": timezone.now(), "error": error}
    if metrics is not None:
        fields["metrics"] = metrics
    if progress is not None:
        fields["progress"] = progress
    return TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.RUNNING).update(**fields) == 1


class _ProgressReporter:
    """Keeps the latest progress for the heartbeat to write, which also learns of cancels."""

    def __init__(self, run_id: int, echo=None):
        self.run_id = run_id
        self.echo = echo
        self.losses: list[tuple[int, float]] = []
        self.latest: dict = {}

    def progress(self, progress) -> None:
        if progress.loss is not None and progress.phase == "train":
            self.losses.append((progress.step, round(progress.loss, 5)))
        self.latest = progress.to_dict()
        if self.echo:
            self.echo(progress)

    def snapshot(self) -> dict:
        stride = max(1, len(self.losses) // LOSS_POINTS)
        return {**self.latest, "loss": self.losses[::stride]}

    def beat(self) -> str:
        running = TrainingRun.objects.filter(pk=self.run_id, status=TrainingRun.Status.RUNNING)
        if not running.update(progress=self.snapshot(), heartbeat_at=timezone.now()):
            return TAKEN
        return CANCELLED if running.filter(cancel_requested=True).exists() else ""


def runs_of(project: Project):
    """The project's runs, as they really are: a run whose worker died shows as failed."""
    fail_stale_runs(project)
    return TrainingRun.objects.filter(project=project)


def fail_stale_runs(project=None) -> int:
    """Runs whose worker stopped beating (killed, paused, machine lost) end as failed, and
    what they left on disk goes. The worker calls this every minute; pages and the API call
    it for their project, so a dead run is seen on time even with no worker alive."""
    runs = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING, heartbeat_at__lt=stale_before())
    if project is not None:
        runs = runs.filter(project=project)
    failed = [
        pk
        for pk in runs.values_list("pk", flat=True)
        if runs.filter(pk=pk).update(
            status=TrainingRun.Status.FAILED, error=stale_message(), finished_at=timezone.now()
        )
    ]
    if failed:
        logger.warning("runs %s failed: %s", failed, stale_message())
        sweep_run_leftovers(failed)
    return len(failed)


PARTIAL = re.compile(r"^\.run-(\d+)\.partial-")
FINAL = re.compile(r"^run-(\d+)$")


def sweep_run_leftovers(run_ids=None) -> list[Path]:
    """Remove model folders no model version uses, of runs that are not running: half-written
    `.run-N.partial-*` folders of a killed save, and whole `run-N` folders of runs that failed
    after saving. Only those of `run_ids` when given; the worker sweeps all at start-up."""
    root = Path(settings.MODELS_ROOT)
    folders = []
    for folder in root.glob("project-*/*"):
        match = PARTIAL.match(folder.name) or FINAL.match(folder.name)
        if match and folder.is_dir() and (run_ids is None or int(match[1]) in run_ids):
            folders.append((int(match[1]), folder))
    if not folders:
        return []
    running = set(
        TrainingRun.objects.filter(pk__in={pk for pk, _ in folders}, status=TrainingRun.Status.RUNNING).values_list(
            "pk", flat=True
        )
    )
    registered = set(ModelVersion.objects.filter(run__in={pk for pk, _ in folders}).values_list("run_id", flat=True))
    removed = []
    for run_id, folder in folders:
        partial = folder.name.startswith(".")
        if run_id not in running and (partial or run_id not in registered):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        logger.info("removed model folders nothing uses: %s", ", ".join(map(str, removed)))
    return removed


@transaction.atomic
def activate(version: ModelVersion, *, preannotate=True, actor=None) -> None:
    """Make `version` the one suggestions come from, and pre-annotate with it in the worker."""
    lock_project(version.project)
    previous = ModelVersion.objects.active_for(version.project_id)
    record(
        actor,
        "model.activate",
        project_id=version.project_id,
        obj=version,
        before={"active": previous.pk if previous else None},
        after={"active": version.pk},
    )
    ModelVersion.objects.filter(project=version.project_id, is_active=True).exclude(pk=version.pk).update(
        is_active=False
    )
    refusal = preannotation_quota_refusal(version.project) if preannotate else ""
    ModelVersion.objects.filter(pk=version.pk).update(
        is_active=True,
        preannotation_status=(
            ModelVersion.Preannotation.FAILED
            if refusal
            else ModelVersion.Preannotation.QUEUED
            if preannotate
            else ModelVersion.Preannotation.NOT_REQUESTED
        ),
        preannotation_error=refusal,
    )
    if preannotate and not refusal:
        from training.tasks import preannotate_task

        transaction.on_commit(lambda: preannotate_task(version.pk))


def delete_version(version: ModelVersion, *, actor=None) -> None:
    """Delete the version and free its disk. Spans accepted from it keep their text."""
    path = Path(version.artifact_path)
    with transaction.atomic():
        record(actor, "model.delete", project_id=version.project_id, obj=version, before={"run": version.run_id})
        version.delete()
    if path.is_dir() and Path(settings.MODELS_ROOT) in path.resolve().parents:
        shutil.rmtree(path, ignore_errors=True)
