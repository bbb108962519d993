"""An uploaded file's way in: store it, check it whole, map its labels, import it all or nothing."""

import contextlib
import logging
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from annotation.formats.decode import decode_upload
from annotation.formats.conll import SENTENCES_PER_DOCUMENT
from annotation.formats.detect import FORMATS, detect_format, read_documents
from annotation.formats.documents import ImportedDocument
from annotation.formats.errors import FormatError
from annotation.models import ImportJob, Project
from annotation.services import import_documents, labels_by_name

logger = logging.getLogger(__name__)

# Names used by the public corpora, mapped to the studio's default labels.
KNOWN_LABEL_ALIASES = {
    "SPECIFICDISEASE": "DISEASE",
    "DISEASECLASS": "DISEASE",
    "MODIFIER": "DISEASE",
    "COMPOSITEMENTION": "DISEASE",
    "DISEASE": "DISEASE",
    "CHEMICAL": "TREATMENT",
    "DRUG": "TREATMENT",
    "TREATMENT": "TREATMENT",
}


class ImportRejected(Exception):
    """The file cannot be imported; the message says exactly why."""


def check_size(size: int, filename: str) -> None:
    limit = settings.IMPORT_MAX_BYTES
    if size > limit:
        raise ImportRejected(
            f"{filename}: the file is {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit"
        )


def parse_file(path: Path, filename: str, fmt: str | None, options: dict) -> tuple[str, list]:
    """Decode and read a whole file; return (format, documents). Raises FormatError."""
    text = decode_upload(path.read_bytes(), filename)
    fmt = fmt or detect_format(filename, text[:8192])
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}", filename=filename)
    split = options.get("sentences_per_document")
    return fmt, read_documents(
        fmt, text, filename=filename, column=options.get("column"),
        sentences_per_document=SENTENCES_PER_DOCUMENT if split is None else split,
    )


def store_upload(project: Project, chunks, *, filename: str, size: int, user, fmt=None, options=None) -> ImportJob:
    """Save the upload, then read it whole so that a bad file is refused straight away."""
    check_size(size, filename)
    options = options or {}
    directory = Path(settings.MEDIA_ROOT) / "imports"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}{Path(filename).suffix[:16]}"
    partial = path.with_suffix(path.suffix + ".part")
    written = 0
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                written += len(chunk)
                check_size(written, filename)
                out.write(chunk)
        partial.rename(path)
        fmt, documents = parse_file(path, filename, fmt, options)
    except (FormatError, ImportRejected) as error:
        partial.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise ImportRejected(str(error)) from None
    return ImportJob.objects.create(
        project=project,
        created_by=user,
        filename=filename,
        stored_path=str(path),
        size=written,
        format=fmt,
        options=options,
        source_labels=dict(Counter(label for doc in documents for _, _, label in doc.mentions)),
        document_count=len(documents),
        label_mapping=suggest_label_mapping(project, documents),
    )


def suggest_label_mapping(project: Project, documents: list[ImportedDocument]) -> dict[str, str]:
    """Incoming labels the project already has, by name or by a known corpus alias."""
    project_labels = labels_by_name(project)
    mapping = {}
    for source in sorted({label for doc in documents for _, _, label in doc.mentions}):
        key = source.upper()
        target = project_labels.get(key) or project_labels.get(KNOWN_LABEL_ALIASES.get(key, ""))
        if target:
            mapping[source] = target.name
    return mapping


def start_import(job: ImportJob, *, label_mapping: dict[str, str], create_unmapped: bool) -> ImportJob:
    """Run small files now and queue large ones; either way `run_import` does the work."""
    job.label_mapping = label_mapping
    job.create_unmapped = create_unmapped
    job.status = ImportJob.Status.QUEUED
    job.progress_total = job.document_count
    job.save(update_fields=["label_mapping", "create_unmapped", "status", "progress_total"])
    if job.size <= settings.IMPORT_INLINE_MAX_BYTES:
        run_import(job.pk)
        job.refresh_from_db()
    else:
        from annotation.tasks import run_import_task

        run_import_task(job.pk)
    return job


def run_import(job_id: int) -> None:
    job = ImportJob.objects.select_related("project", "created_by").get(pk=job_id)
    if job.status not in {ImportJob.Status.QUEUED, ImportJob.Status.RUNNING}:
        return
    job.status = ImportJob.Status.RUNNING
    job.save(update_fields=["status"])
    path = Path(job.stored_path)
    try:
        _fmt, documents = parse_file(path, job.filename, job.format, job.options)
        with _progress_writer(job.pk) as report_progress:
            summary = import_documents(
                job.project,
                documents,
                importer=job.created_by,
                filename=job.filename,
                label_mapping=job.label_mapping,
                create_unmapped=job.create_unmapped,
                on_progress=report_progress,
            )
    except (FormatError, ValueError, OSError, DatabaseError) as error:
        logger.warning("import %s failed: %s", job.pk, error)
        job.status, job.error = ImportJob.Status.FAILED, str(error)
    else:
        job.status, job.summary = ImportJob.Status.SUCCEEDED, summary.as_dict()
        job.progress_done = job.progress_total
    job.finished_at = timezone.now()
    job.save()
    path.unlink(missing_ok=True)


@contextlib.contextmanager
def _progress_writer(job_id: int):
    """Progress goes through a second connection, so it shows while the import's own
    transaction is still open (the import commits all or nothing)."""
    if connection.in_atomic_block:  # e.g. inside a test transaction: nothing could see it anyway
        yield lambda done, total: None
        return
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    last = 0.0
    with psycopg.connect(autocommit=True, **params) as side:

        def report(done: int, total: int) -> None:
            nonlocal last
            if time.monotonic() - last >= 0.5 or done == total:
                last = time.monotonic()
                side.execute(
                    "UPDATE annotation_importjob SET progress_done = %s WHERE id = %s",
                    [done, job_id],
                )

        yield report


@transaction.atomic
def import_path(project: Project, path: Path, *, user, fmt=None, options=None, label_mapping=None, create_unmapped=True):
    """Import a file from disk in one go (the management command's path)."""
    check_size(path.stat().st_size, path.name)
    try:
        _fmt, documents = parse_file(path, path.name, fmt, options or {})
    except FormatError as error:
        raise ImportRejected(str(error)) from None
    mapping = suggest_label_mapping(project, documents)
    mapping.update(label_mapping or {})
    return import_documents(
        project,
        documents,
        importer=user,
        filename=path.name,
        label_mapping=mapping,
        create_unmapped=create_unmapped,
    )
