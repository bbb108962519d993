"""What training keeps of deleted documents and projects: a deleted document's quotes leave the
dev errors of the project's runs, a deleted project's model folders leave the disk, and the
models page counts, per run, the documents of its training snapshot that are gone."""

import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction

from annotation.models import Document
from training.models import TrainingRun
from training.reports import QUOTING_KEYS


def drop_document_quotes(sender, document, **kwargs) -> None:
    """Remove the rows quoting `document` from the dev errors of its project's runs."""
    quoted = str(document.pk)
    runs = TrainingRun.objects.filter(project_id=document.project_id, metrics__evaluation__isnull=False)
    for run in runs.select_for_update():
        evaluation = run.metrics["evaluation"]
        kept = {
            key: [row for row in evaluation[key] if str(row.get("doc_id")) != quoted]
            for key in QUOTING_KEYS
            if isinstance(evaluation.get(key), list)
        }
        if any(len(rows) != len(evaluation[key]) for key, rows in kept.items()):
            metrics = {**run.metrics, "evaluation": {**evaluation, **kept}}
            TrainingRun.objects.filter(pk=run.pk).update(metrics=metrics)


def remove_model_folders(sender, project, **kwargs) -> None:
    """Once the project's deletion is committed, its models go from disk too."""
    folder = Path(settings.MODELS_ROOT) / f"project-{project.pk}"
    transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))


def count_deleted_documents(runs) -> None:
    """Set `deleted_documents` on each run: how many documents it trained on are gone."""
    trained_on = {run.pk: {row["document"] for row in run.data_snapshot or []} for run in runs}
    everything = set().union(*trained_on.values()) if trained_on else set()
    existing = set(Document.objects.filter(pk__in=everything).values_list("pk", flat=True))
    for run in runs:
        run.deleted_documents = len(trained_on[run.pk] - existing)
