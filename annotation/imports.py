"""An uploaded file's way in: store it, check it whole, map its labels, import it all or nothing."""

import logging
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from annotation.models import Annotation, ImportJob, Project
from annotation.services import import_documents, labels_by_name
from annotation.text.formats.decode import decode_upload
from annotation.text.formats.detect import FORMATS, detect_format, is_archive, read_archive, read_documents
from annotation.text.formats.documents import ImportedDocument
from annotation.text.formats.errors import FormatError
from studio.background import TAKEN, Heartbeat, WorkLost, recording, retrying, stale_before, stale_message

logger = logging.getLogger(__name__)

# Names the public corpora use for what the studio's DISEASE means.
KNOWN_LABEL_ALIASES = {
    "SPECIFICDISEASE": "DISEASE",
    "DISEASECLASS": "DISEASE",
    "MODIFIER": "DISEASE",
    "COMPOSITEMENTION": "DISEASE",
    "DISEASE": "DISEASE",
    "TREATMENT": "TREATMENT",
}
# Names that may or may not mean a studio label: never applied by themselves. BC5CDR's
# chemicals, for one, include the drugs that caused a disease.
GUESSED_LABEL_ALIASES = {
    "CHEMICAL": ("TREATMENT", "some chemicals and drugs in a corpus caused the disease rather than treated it"),
    "DRUG": ("TREATMENT", "some drugs in a corpus caused the disease rather than treated it"),
}


SUGGESTIONS = "suggestions"  # the upload option that imports mentions as suggestions to review


class ImportRejected(Exception):
    """The file cannot be imported; the message says exactly why."""


def check_size(size: int, filename: str) -> None:
    limit = settings.IMPORT_MAX_BYTES
    if size > limit:
        raise ImportRejected(f"{filename}: the file is {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit")


def parse_file(path: Path, filename: str, fmt: str | None, options: dict) -> tuple[str, list]:
    """Decode and read a whole file; return (format, documents). Raises FormatError."""
    data = path.read_bytes()
    if is_archive(data):
        return read_archive(data, filename=filename, max_bytes=settings.IMPORT_MAX_BYTES)
    text = decode_upload(data, filename)
    fmt = fmt or detect_format(filename, text[:8192])
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}", filename=filename)
    return fmt, read_documents(
        fmt,
        text,
        filename=filename,
        column=options.get("column"),
        sentences_per_document=options.get("sentences_per_document"),
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
        return ImportJob.objects.create(
            project=project,
            created_by=user,
            filename=filename[: ImportJob._meta.get_field("filename").max_length],
            stored_path=str(path),
            size=written,
            format=fmt,
            options=options,
            source_labels=dict(Counter(label for doc in documents for _, _, label in doc.all_mentions())),
            document_count=len(documents),
            preview=preview(documents),
            label_mapping=suggest_label_mapping(project, documents),
        )
    except BaseException as error:  # whatever stops it, no file is left without its job
        partial.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        if isinstance(error, FormatError | ImportRejected):
            raise ImportRejected(str(error)) from None
        raise


def preview(documents: list[ImportedDocument]) -> dict:
    """What the import will do besides labels, for the page that asks for the mapping."""
    annotators = Counter(a.annotator for doc in documents for a in doc.annotations if a.annotator)
    return {
        "annotators": dict(annotators),
        "annotated": sum(1 for doc in documents if doc.annotated or doc.all_mentions()),
        "without_mentions": sum(1 for doc in documents if doc.annotated is not False and not doc.all_mentions()),
        "trimmed": sum(doc.trimmed for doc in documents),
        "repaired": sum(doc.repaired for doc in documents),
        "nested": sum(doc.nested_dropped for doc in documents),
    }


def guessed_label(project: Project, source: str) -> tuple[str, str] | None:
    """(project label, why it is only a guess) for an incoming name that may mean that label."""
    target, why = GUESSED_LABEL_ALIASES.get(source.upper(), ("", ""))
    label = labels_by_name(project).get(target)
    return (label.name, why) if label else None


def suggest_label_mapping(project: Project, documents: list[ImportedDocument]) -> dict[str, str]:
    """Incoming labels the project already has, by name or by a corpus alias that is sure;
    guesses are only offered (`guessed_label`)."""
    project_labels = labels_by_name(project)
    mapping = {}
    for source in sorted({label for doc in documents for _, _, label in doc.all_mentions()}):
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
    return _run_or_queue(job)


def retry_import(job: ImportJob) -> ImportJob:
    """Import a failed job's stored upload again, with the mapping chosen before."""
    if job.status != ImportJob.Status.FAILED:
        raise ImportRejected(f"Only a failed import can be retried; this one is {job.get_status_display().lower()}.")
    if not job.stored_path or not Path(job.stored_path).is_file():
        raise ImportRejected(
            f"The uploaded file was removed {settings.IMPORT_RETENTION_DAYS} days after the import failed; "
            "upload it again."
        )
    retried = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.FAILED).update(
        status=ImportJob.Status.QUEUED, error="", progress_done=0, heartbeat_at=None, finished_at=None
    )
    if not retried:
        raise ImportRejected("This import was retried already.")
    job.refresh_from_db()
    return _run_or_queue(job)


def _run_or_queue(job: ImportJob) -> ImportJob:
    if job.size <= settings.IMPORT_INLINE_MAX_BYTES:
        run_import(job.pk)
        job.refresh_from_db()
    else:
        from annotation.tasks import run_import_task

        run_import_task(job.pk)
    return job


def run_import(job_id: int) -> None:
    """Import a queued job's file, all or nothing, with heartbeats and progress.

    The job turns succeeded in the import's own transaction, and only while it is still
    running: an import declared dead meanwhile (its worker paused past the heartbeat
    timeout) rolls back instead, so "Retry" never doubles it. A connection lost to a
    database restart starts the import again, for as long as the heartbeat timeout.
    """
    now = timezone.now()
    started = retrying(
        lambda: ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
            status=ImportJob.Status.RUNNING, heartbeat_at=now
        )
    )
    if not started:
        return  # retried or declared dead meanwhile
    job = retrying(lambda: ImportJob.objects.select_related("project", "created_by").get(pk=job_id))
    progress = {"done": 0}

    def beat() -> str:
        running = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING)
        return "" if running.update(progress_done=progress["done"], heartbeat_at=timezone.now()) else TAKEN

    with Heartbeat(beat) as heartbeat:
        try:
            _fmt, documents = parse_file(Path(job.stored_path), job.filename, job.format, job.options)
            retrying(lambda: _import_job(job, documents, progress, heartbeat))
        except WorkLost:
            error = "" if heartbeat.taken else heartbeat.reason
        except (FormatError, ImportRejected, ValueError, OSError, DatabaseError) as failure:
            error = str(failure)
        except Exception as failure:  # a bug; the page must still say what happened
            logger.exception("import %s failed", job.pk)
            error = f"{type(failure).__name__}: {failure}"
        else:
            Path(job.stored_path).unlink(missing_ok=True)
            return
    if not error:
        logger.warning("import %s was declared dead while its worker was away; nothing was imported", job.pk)
        return
    logger.warning("import %s failed: %s", job.pk, error)
    recording(
        lambda: ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
            status=ImportJob.Status.FAILED, error=error, finished_at=timezone.now()
        )
    )


def _import_job(job: ImportJob, documents, progress: dict, heartbeat: Heartbeat) -> None:
    def report(done: int, total: int) -> None:
        progress["done"] = done
        heartbeat.check()

    with transaction.atomic():
        summary = import_documents(
            job.project,
            documents,
            importer=job.created_by,
            filename=job.filename,
            label_mapping=job.label_mapping,
            create_unmapped=job.create_unmapped,
            on_progress=report,
            **annotation_options(job.options),
        )
        finished = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
            status=ImportJob.Status.SUCCEEDED,
            summary=summary.as_dict(),
            progress_done=job.progress_total,
            finished_at=timezone.now(),
        )
        if not finished:
            raise WorkLost(TAKEN)  # rolls the import back


def fail_stale_imports(project=None) -> int:
    """Imports whose worker stopped beating end as failed; nothing of them was stored, and
    their upload stays for "Retry"."""
    jobs = ImportJob.objects.filter(status=ImportJob.Status.RUNNING, heartbeat_at__lt=stale_before())
    if project is not None:
        jobs = jobs.filter(project=project)
    return jobs.update(status=ImportJob.Status.FAILED, error=stale_message(), finished_at=timezone.now())


def sweep_uploads() -> list[Path]:
    """Remove uploads nothing will read again: those of imports that failed longer ago than
    the retention period, those whose label mapping was never chosen in that time, and,
    after an hour, files no job names (the `.part` of a killed upload, say)."""
    directory = Path(settings.MEDIA_ROOT) / "imports"
    if not directory.is_dir():
        return []
    expired = timezone.now() - timedelta(days=settings.IMPORT_RETENTION_DAYS)
    never_mapped = ImportJob.objects.filter(status=ImportJob.Status.UPLOADED, created_at__lt=expired)
    abandoned = set(never_mapped.values_list("stored_path", flat=True))
    never_mapped.update(
        status=ImportJob.Status.FAILED,
        error=f"The label mapping was not chosen within {settings.IMPORT_RETENTION_DAYS} days; the upload was removed.",
        finished_at=timezone.now(),
    )
    jobs = set(ImportJob.objects.values_list("stored_path", flat=True))
    wanted = (
        set(
            ImportJob.objects.filter(
                Q(status__in=[ImportJob.Status.UPLOADED, ImportJob.Status.QUEUED, ImportJob.Status.RUNNING])
                | Q(status=ImportJob.Status.FAILED, finished_at__gte=expired)
            ).values_list("stored_path", flat=True)
        )
        - abandoned
    )
    an_hour_ago = time.time() - 3600
    removed = []
    for path in directory.iterdir():
        if str(path) in wanted or (str(path) not in jobs and path.stat().st_mtime > an_hour_ago):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        logger.info("removed %d uploads nothing will read again", len(removed))
    return removed


def annotation_options(options: dict) -> dict:
    """How the upload's options say its annotations are stored: their status, and whose
    they are when the file names no annotator."""
    annotator = None
    if options.get("annotator"):
        annotator = get_user_model().objects.filter(username=options["annotator"]).first()
        if annotator is None:
            raise ImportRejected(f"There is no user named {options['annotator']!r} to give the annotations to.")
    status = options.get("status") or Annotation.Status.SUBMITTED
    if status == SUGGESTIONS:
        return {"as_suggestions": True, "annotator": annotator}
    return {"annotation_status": status, "annotator": annotator}


@transaction.atomic
def import_path(
    project: Project, path: Path, *, user, fmt=None, options=None, label_mapping=None, create_unmapped=True
):
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
        **annotation_options(options or {}),
    )
