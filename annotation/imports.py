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

from annotation.models import Annotation, ImportJob, Project, first_words
from annotation.rendering import SpanView, render_text
from annotation.services import content_hash, held_texts, import_documents, labels_by_name
from annotation.text.formats.decode import decode_upload
from annotation.text.formats.detect import FORMATS, detect_format, is_archive, read_archive, read_documents
from annotation.text.formats.documents import ImportedDocument
from annotation.text.formats.errors import FormatError
from annotation.text.tokenize import tokenize
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
# The two ways to cut plain text: (how the check step says it, the button that asks for it).
TEXT_SPLITS = {
    "text": ("one per file", "Make it one document"),
    "text-lines": ("one per line", "Split it one per line"),
}
PREVIEW_DOCUMENTS = 3  # the documents the check step shows with their spans
PREVIEW_CHARACTERS = 1500  # of each: enough to judge its spans by, not a whole report
NAMED_DUPLICATES = 10  # duplicates the check step names; the rest are counted
UNMAPPED_COLOUR = "#888888"


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
        return ImportJob.objects.create(
            project=project,
            created_by=user,
            filename=filename[: ImportJob._meta.get_field("filename").max_length],
            stored_path=str(path),
            size=written,
            options=options,
            **_check(project, path, filename, fmt, options),
        )
    except BaseException as error:  # whatever stops it, no file is left without its job
        partial.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        if isinstance(error, FormatError | ImportRejected):
            raise ImportRejected(str(error)) from None
        raise


def _check(project: Project, path: Path, filename: str, fmt: str | None, options: dict) -> dict:
    """What the check step shows of a stored upload, read whole: the job's fields that say it."""
    fmt, documents = parse_file(path, filename, fmt, options)
    return {
        "format": fmt,
        "source_labels": dict(Counter(label for doc in documents for _, _, label in doc.all_mentions())),
        "document_count": len(documents),
        "preview": preview(project, documents),
        "label_mapping": suggest_label_mapping(project, documents),
    }


def split_text_again(job: ImportJob, fmt: str) -> None:
    """Check a plain-text upload again, cut the other way (a document per file or per line)."""
    if fmt not in TEXT_SPLITS:
        raise ImportRejected("Choose one document per file or one document per line.")
    if job.format not in TEXT_SPLITS:
        raise ImportRejected(
            f"{job.filename} is not plain text ({FORMATS.get(job.format, job.format)}): it has no split to choose."
        )
    if job.status != ImportJob.Status.UPLOADED:
        raise ImportRejected(
            f"{job.filename} is {job.get_status_display().lower()} already; its split can no longer change."
        )
    try:
        checked = _check(job.project, Path(job.stored_path), job.filename, fmt, job.options)
    except FormatError as error:
        raise ImportRejected(f"{TEXT_SPLITS[fmt][0].capitalize()}: {error}") from None
    except FileNotFoundError:
        raise ImportRejected(f"The uploaded {job.filename} was removed; upload it again.") from None
    if not ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.UPLOADED).update(**checked):
        raise ImportRejected(f"{job.filename} started importing meanwhile; its split can no longer change.")


def preview(project: Project, documents: list[ImportedDocument]) -> dict:
    """What the import will do besides labels, for the page that asks for the mapping."""
    annotators = Counter(a.annotator for doc in documents for a in doc.annotations if a.annotator)
    return {
        "annotators": dict(annotators),
        "annotated": sum(1 for doc in documents if doc.annotated or doc.all_mentions()),
        "without_mentions": sum(1 for doc in documents if doc.annotated is not False and not doc.all_mentions()),
        "trimmed": sum(doc.trimmed for doc in documents),
        "repaired": sum(doc.repaired for doc in documents),
        "nested": sum(doc.nested_dropped for doc in documents),
        "mentions": sum(len(doc.all_mentions()) for doc in documents),
        "documents": [_first_document(doc, index) for index, doc in enumerate(documents[:PREVIEW_DOCUMENTS])],
        **duplicates(project, documents),
    }


def _first_document(doc: ImportedDocument, index: int) -> dict:
    """One of the documents the check step shows, cut at a word once it is long, with the
    mentions of the file (or of its first annotator) inside what is shown."""
    text = doc.text
    if len(text) > PREVIEW_CHARACTERS:
        word_end = text.rfind(" ", 0, PREVIEW_CHARACTERS)
        text = text[: word_end if word_end > 0 else PREVIEW_CHARACTERS]
    first = doc.annotations[0] if doc.annotations and not doc.mentions else None
    mentions = first.mentions if first else doc.mentions
    return {
        "name": doc.title or _place(doc, index),  # not its first words: the text shows them
        "annotator": first.annotator if first else "",
        "text": text,
        "cut": len(text) < len(doc.text),
        "mentions": sorted([start, end, label] for start, end, label in mentions if end <= len(text)),
    }


def duplicates(project: Project, documents: list[ImportedDocument]) -> dict:
    """Texts the project holds already and texts the file repeats: counted, the first few named
    with where the file has them."""
    digests = [content_hash(doc.text) for doc in documents]
    held = held_texts(project, digests)
    first_place: dict[str, str] = {}
    in_project, in_file = [], []
    for index, (doc, digest) in enumerate(zip(documents, digests)):
        name = f"“{doc.title or first_words(doc.text)}” ({_place(doc, index)}"
        if digest in held:
            in_project.append(name + ")")
        elif digest in first_place:
            in_file.append(f"{name}, the same text as {first_place[digest]})")
        else:
            first_place[digest] = _place(doc, index)
    return {
        "in_project": len(in_project),
        "in_project_named": in_project[:NAMED_DUPLICATES],
        "in_project_unnamed": len(in_project[NAMED_DUPLICATES:]),
        "in_file": len(in_file),
        "in_file_named": in_file[:NAMED_DUPLICATES],
        "in_file_unnamed": len(in_file[NAMED_DUPLICATES:]),
    }


def _place(doc: ImportedDocument, index: int) -> str:
    return doc.where or (f"line {doc.line}" if doc.line else f"document {index + 1}")


def previewed_documents(job: ImportJob) -> list[dict]:
    """The check step's first documents with their spans marked as the labelling page marks
    them, in the colours of the labels the mapping gives them (grey: a label still to choose)."""
    labels = {label.name: label for label in job.project.labels.all()}
    shown = []
    for document in job.preview.get("documents", []):
        text, mentions = document["text"], document["mentions"]
        tokens = tokenize(text, [edge for start, end, _ in mentions for edge in (start, end)])
        marks = []
        for index, (start, end, source) in enumerate(mentions):
            label = labels.get(job.label_mapping.get(source, ""))
            marks.append(
                SpanView(index, start, end, label.name if label else source, label.color if label else UNMAPPED_COLOUR)
            )
        shown.append({**document, "html": render_text(text, tokens.starts, tokens.ends, marks)})
    return shown


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


def purge_uploads(cutoff) -> dict[str, int]:
    """Remove the files of uploads made before `cutoff` that no import is reading: those still
    waiting for their label mapping (the job fails, saying why) and those of finished imports.
    Counts of each, by what they were."""
    old = ImportJob.objects.filter(created_at__lt=cutoff).exclude(stored_path="")
    waiting = old.filter(status=ImportJob.Status.UPLOADED)
    finished = old.filter(status__in=[ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED])
    counts = {}
    for what, jobs in (("upload files", waiting), ("finished job files", finished)):
        paths = [Path(path) for path in jobs.values_list("stored_path", flat=True)]
        counts[what] = sum(path.is_file() for path in paths)
        for path in paths:
            path.unlink(missing_ok=True)
    days = settings.RETENTION_DAYS
    waiting.update(
        status=ImportJob.Status.FAILED,
        error=f"The upload was removed after {days} days, the studio's retention period.",
        finished_at=timezone.now(),
    )
    old.filter(status__in=[ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED]).update(stored_path="")
    return counts


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
