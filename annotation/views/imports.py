"""Uploading a file, mapping its labels, and watching (or retrying) the import."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.access import Role, project_for
from annotation.annotators import matches
from annotation.forms import (
    LabelMappingForm,
    UploadForm,
)
from annotation.imports import (
    TEXT_SPLITS,
    ImportRejected,
    check_size,
    fail_stale_imports,
    previewed_documents,
    retry_import,
    split_text_again,
    start_import,
    store_upload,
)
from annotation.models import ImportJob
from annotation.text.formats.detect import FORMAT_HELP, FORMATS
from studio.background import silent_seconds


@require_http_methods(["GET", "POST"])
def import_upload(request, project_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    form = UploadForm()
    error = None
    if request.method == "POST":
        # Refuse an oversized body from its declared length, before reading it.
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        try:
            check_size(declared, "The upload")
        except ImportRejected as rejected:
            return render(
                request,
                "annotation/import_upload.html",
                {"project": project, "form": form, "error": str(rejected), **_limits()},
                status=413,
            )
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = store_upload(
                    project,
                    upload.chunks(),
                    filename=upload.name,
                    size=upload.size,
                    user=request.user,
                    fmt=form.cleaned_data["format"] or None,
                    options={
                        "column": form.cleaned_data["column"] or None,
                        "sentences_per_document": form.cleaned_data["sentences_per_document"],
                        "status": form.cleaned_data["status"] or None,
                        "annotator": form.cleaned_data["annotator"] or None,
                    },
                )
            except ImportRejected as rejected:
                error = str(rejected)
            else:
                return redirect("import_job", project.pk, job.pk)
    status = 400 if error or form.errors else 200
    context = {"project": project, "form": form, "error": error, **_limits()}
    return render(request, "annotation/import_upload.html", context, status=status)


def _limits():
    return {
        "max_mb": settings.IMPORT_MAX_BYTES // 1_000_000,
        "formats": [(label, FORMAT_HELP[key]) for key, label in FORMATS.items()],
    }


def _import_job(request, project_id, job_id) -> ImportJob:
    project = project_for(request.user, project_id, Role.ADMIN)
    fail_stale_imports(project)  # an import whose worker died shows as failed, with Retry
    job = get_object_or_404(ImportJob, pk=job_id, project=project)
    job.project = project  # with the visitor's role, for the page's tabs
    return job


@require_http_methods(["GET", "POST"])
def import_job(request, project_id, job_id):
    job = _import_job(request, project_id, job_id)
    mapping_form = None
    if job.status == ImportJob.Status.UPLOADED:
        mapping_form = LabelMappingForm(request.POST or None, job=job)
        if request.method == "POST" and mapping_form.is_valid():
            start_import(job, label_mapping=mapping_form.mapping(), create_unmapped=False)
            return redirect("import_job", job.project_id, job.pk)
    elif request.method == "POST":  # the mapping sent again, from a stale page or a second click
        messages.info(request, f"{job.filename} is {job.get_status_display().lower()} already; its progress is below.")
        return redirect("import_job", job.project_id, job.pk)
    annotators = job.preview.get("annotators", {})
    context = {
        **_import_context(job),
        "mapping_form": mapping_form,
        "format_label": FORMATS.get(job.format, job.format),
        "annotator_matches": [(match, annotators[match.source]) for match in matches(annotators, importer=request.user)]
        if mapping_form and annotators
        else [],
        "import_status": job.options.get("status") or "submitted",
        "previewed": previewed_documents(job) if mapping_form else [],
        "text_split": _text_split(job) if mapping_form else None,
    }
    return render(request, "annotation/import_job.html", context)


def _text_split(job: ImportJob) -> dict | None:
    """How a plain-text upload is cut, and the format that cuts it the other way."""
    if job.format not in TEXT_SPLITS:
        return None
    other = next(fmt for fmt in TEXT_SPLITS if fmt != job.format)
    return {"mode": TEXT_SPLITS[job.format][0], "other": other, "other_action": TEXT_SPLITS[other][1]}


@require_POST
def import_split(request, project_id, job_id):
    job = _import_job(request, project_id, job_id)
    try:
        split_text_again(job, request.POST.get("format", ""))
    except ImportRejected as refused:
        messages.error(request, str(refused))
    return redirect("import_job", job.project_id, job.pk)


def _import_context(job: ImportJob) -> dict:
    running = job.status == ImportJob.Status.RUNNING
    return {
        "project": job.project,
        "job": job,
        "silent_seconds": silent_seconds(job.heartbeat_at) if running else None,
        "heartbeat_timeout": settings.HEARTBEAT_TIMEOUT,
    }


@require_GET
def import_progress(request, project_id, job_id):
    job = _import_job(request, project_id, job_id)
    response = render(request, "annotation/partials/import_progress.html", _import_context(job))
    if job.is_finished:
        response["HX-Refresh"] = "true"  # swap the finished summary in, with its links
    return response


@require_POST
def import_retry(request, project_id, job_id):
    job = _import_job(request, project_id, job_id)
    try:
        retry_import(job)
    except ImportRejected as refused:
        messages.error(request, str(refused))
    return redirect("import_job", job.project_id, job.pk)
