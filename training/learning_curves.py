"""Learning curves: dev F1 against the number of training documents, from the project's own
runs and from a background run that trains on 25/50/75/100% of the training documents with a
finished run's settings, the same dev split and the same seed. None of its models is kept."""

import dataclasses
import logging
import random
import tempfile
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from studio.audit import record
from studio.background import TAKEN, Heartbeat, recording, retrying, stale_before, stale_message
from training.ml.data import Hyperparameters, TrainingCancelled, TrainingDataError, split_documents
from training.ml.learning_curve import subset_sizes
from training.models import LearningCurve, TrainingRun
from training.services import TrainingRefused, base_model, check_training_data, training_documents

logger = logging.getLogger(__name__)


def history_points(run: TrainingRun) -> list[dict]:
    """The project's succeeded runs of `run`'s base model as points: training documents (the
    run's snapshot less its dev documents), micro F1 and F1 per label; the latest run for
    each number of documents."""
    by_size = {}
    runs = TrainingRun.objects.filter(
        project=run.project_id, status=TrainingRun.Status.SUCCEEDED, base_model=run.base_model
    ).order_by("created_at")
    for past in runs:
        evaluation = (past.metrics or {}).get("evaluation") or {}
        documents = len(past.data_snapshot or []) - (evaluation.get("documents") or 0)
        if documents > 0 and evaluation.get("micro"):
            by_size[documents] = point(documents, evaluation)
    return [by_size[size] for size in sorted(by_size)]


def point(documents: int, evaluation: dict) -> dict:
    per_label = {label: scores["f1"] for label, scores in (evaluation.get("per_label") or {}).items()}
    return {"documents": documents, "micro": evaluation["micro"]["f1"], "per_label": per_label}


def start(run: TrainingRun, user) -> LearningCurve:
    """Queue a learning-curve run with `run`'s settings. Refused (TrainingRefused) when `run`
    did not succeed, training cannot start, there would be no dev split, or one is already
    queued or running for the project."""
    if run.status != TrainingRun.Status.SUCCEEDED:
        raise TrainingRefused("A learning curve uses a finished run's settings; this run did not succeed.")
    annotations, _warnings = check_training_data(run.project)
    hp = Hyperparameters.from_dict(run.hyperparameters)
    train_docs, dev_docs = split_documents(training_documents(annotations), hp.dev_fraction)
    if not dev_docs:
        raise TrainingRefused("A learning curve needs dev documents to score; this run's settings hold none out.")
    fail_stale_curves(run.project)
    try:
        with transaction.atomic():
            curve = LearningCurve.objects.create(project=run.project, run=run, requested_by=user)
            record(user, "learning_curve.start", project_id=run.project_id, obj=curve, after={"run": run.pk})
    except IntegrityError:
        raise TrainingRefused("A learning curve is already being drawn for this project; wait for it.") from None
    from training.tasks import learning_curve_task

    transaction.on_commit(lambda: learning_curve_task(curve.pk))
    return curve


def execute(curve_id: int) -> None:
    """The worker's side: train on growing shares of the training documents, record each
    point's dev F1, and beat a heartbeat with the share done as one progress figure."""
    now = timezone.now()
    started = retrying(
        lambda: LearningCurve.objects.filter(pk=curve_id, status=LearningCurve.Status.QUEUED).update(
            status=LearningCurve.Status.RUNNING, heartbeat_at=now
        )
    )
    if not started:
        return
    curve = retrying(lambda: LearningCurve.objects.select_related("run", "project").get(pk=curve_id))
    tracker = _Tracker(curve.pk)
    error = ""
    with Heartbeat(tracker.beat) as heartbeat:
        try:
            _train_points(curve, tracker, heartbeat)
        except TrainingCancelled:
            error = heartbeat.reason
        except (TrainingRefused, TrainingDataError, ValueError, OSError) as failure:
            error = str(failure)
        except Exception as failure:  # a bug, the machine or the database; the page must still say what
            logger.exception("learning curve %s failed", curve.pk)
            error = f"{type(failure).__name__}: {failure}"
    if heartbeat.taken:
        return
    if heartbeat.database_gone:
        error = heartbeat.reason
    status = LearningCurve.Status.FAILED if error else LearningCurve.Status.SUCCEEDED
    recording(
        lambda: LearningCurve.objects.filter(pk=curve.pk, status=LearningCurve.Status.RUNNING).update(
            status=status, error=error, points=tracker.points, progress=tracker.progress, finished_at=timezone.now()
        )
    )


def _train_points(curve: LearningCurve, tracker, heartbeat: Heartbeat) -> None:
    annotations, _warnings = retrying(lambda: check_training_data(curve.project))
    labels = retrying(lambda: list(curve.project.labels.values_list("name", flat=True)))
    hp = Hyperparameters.from_dict(curve.run.hyperparameters)
    train_docs, dev_docs = split_documents(training_documents(annotations), hp.dev_fraction)
    dev_docs = [dataclasses.replace(doc, is_dev=True) for doc in dev_docs]
    # Shares are taken in one seeded order, so each holds the smaller ones; each keeps the
    # documents in the run's order, so the full share trains exactly as the run did.
    drawn = [doc.doc_id for doc in train_docs]
    random.Random(hp.seed).shuffle(drawn)
    sizes = subset_sizes(len(train_docs))
    from training.ml.pipeline import train  # torch loads in the worker, not in web processes

    for index, size in enumerate(sizes):
        share = set(drawn[:size])
        chosen = [dataclasses.replace(doc, is_dev=False) for doc in train_docs if doc.doc_id in share]
        with tempfile.TemporaryDirectory(prefix="learning-curve-") as directory:
            try:
                result = train(
                    chosen + dev_docs,
                    labels,
                    hp,
                    base_model=curve.run.base_model or base_model(),
                    output_dir=Path(directory) / "model",
                    on_progress=lambda progress, index=index: tracker.advance(
                        (index + progress.step / max(1, progress.total_steps)) / len(sizes)
                    ),
                    should_stop=heartbeat.stopped.is_set,
                )
            except TrainingDataError as error:  # a small share can lack a label's examples
                tracker.points.append({"documents": size, "error": str(error)})
            else:
                tracker.points.append(point(size, result.evaluation))
        tracker.advance((index + 1) / len(sizes))


class _Tracker:
    """The curve's progress and points so far, which the heartbeat writes."""

    def __init__(self, curve_id: int):
        self.curve_id = curve_id
        self.progress = 0.0
        self.points: list[dict] = []

    def advance(self, share: float) -> None:
        self.progress = share

    def beat(self) -> str:
        running = LearningCurve.objects.filter(pk=self.curve_id, status=LearningCurve.Status.RUNNING)
        updated = running.update(progress=self.progress, points=list(self.points), heartbeat_at=timezone.now())
        return "" if updated else TAKEN


def latest(run: TrainingRun) -> LearningCurve | None:
    """The project's latest learning curve (a dead one shown as failed)."""
    fail_stale_curves(run.project)
    return LearningCurve.objects.filter(project=run.project_id).select_related("run").first()


def fail_stale_curves(project=None) -> int:
    """Curves whose worker stopped beating end as failed, like training runs."""
    curves = LearningCurve.objects.filter(status=LearningCurve.Status.RUNNING, heartbeat_at__lt=stale_before())
    if project is not None:
        curves = curves.filter(project=project)
    return curves.update(status=LearningCurve.Status.FAILED, error=stale_message(), finished_at=timezone.now())
