from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import selectors
from annotation.access import Role, project_for, uses_assignments, visible_projects
from annotation.formats.detect import EXPORT_FORMATS, FORMATS, export_documents
from annotation.forms import (
    DocumentFilterForm,
    ExportForm,
    LabelForm,
    LabelMappingForm,
    NewProjectForm,
    ProjectForm,
    UploadForm,
)
from annotation.imports import (
    ImportRejected,
    check_size,
    fail_stale_imports,
    retry_import,
    start_import,
    store_upload,
)
from annotation.models import Annotation, Document, ImportJob, Label, Membership
from annotation.services import (
    LabelInUse,
    MembershipRefused,
    ProjectRefused,
    create_project,
    delete_label,
    remove_member,
    save_label,
    save_project_settings,
    set_role,
)
from studio.audit import describe
from studio.background import silent_seconds
from studio.models import AuditEntry

DOCUMENTS_PER_PAGE = 50


@require_GET
def project_list(request):
    projects = (
        visible_projects(request.user)
        .prefetch_related("labels")
        .annotate(
            document_count=Count("documents", distinct=True),
            submitted_count=Count(
                "documents",
                filter=Q(documents__annotations__status=Annotation.Status.SUBMITTED),
                distinct=True,
            ),
        )
    )
    return render(request, "annotation/project_list.html", {"projects": projects})


@require_http_methods(["GET", "POST"])
def project_create(request):
    form = NewProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = create_project(**form.cleaned_data, created_by=request.user)
        except ProjectRefused as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, f'Created "{project.name}" with the labels DISEASE and TREATMENT.')
            return redirect("project_documents", project.pk)
    return render(request, "annotation/project_form.html", {"form": form}, status=400 if form.errors else 200)


STATUSES = [(selectors.NOT_STARTED, "Not started")] + list(Annotation.Status.choices)


@require_GET
def project_documents(request, project_id):
    project = project_for(request.user, project_id)
    annotators = [(user.pk, user.get_username()) for user in selectors.annotators(project)]
    filters = DocumentFilterForm(request.GET, statuses=STATUSES, annotators=annotators)
    filters.is_valid()
    chosen = {key: filters.cleaned_data.get(key) for key in ("q", "status", "annotator", "suggestions")}
    ids = selectors.document_ids(
        project,
        query=chosen["q"] or "",
        status=chosen["status"] or "",
        annotator_id=chosen["annotator"],
        has_suggestions=bool(chosen["suggestions"]),
        assigned_to=request.user if uses_assignments(project, request.user) else None,
        own=_own(request, project),
        viewer=request.user,
    )
    page = Paginator(ids, DOCUMENTS_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = selectors.document_rows(list(page.object_list), own=_own(request, project))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "project": project,
        "page": page,
        "filters": filters,
        "has_documents": page.paginator.count or Document.objects.filter(project=project).exists(),
        "query": query.urlencode(),
        "export_form": ExportForm(),
    }
    template = "annotation/partials/document_table.html" if request.htmx else "annotation/document_list.html"
    return render(request, template, context)


def _own(request, project):
    """Annotators see their own progress in the list: others' work is not theirs to see."""
    return request.user if project.role == Role.ANNOTATOR else None


@require_GET
def status_summary(request, project_id):
    """The per-status counts above the document list, fetched on their own after the page:
    counting a large project costs more than the rest of the page."""
    project = project_for(request.user, project_id)
    counts = selectors.status_counts(project, own=_own(request, project))
    context = {
        "project": project,
        "status_counts": [(key, label, counts[key]) for key, label in STATUSES],
        "total": counts["all"],
        "current": request.GET.get("status", ""),
    }
    return render(request, "annotation/partials/status_summary.html", context)


@require_http_methods(["GET", "POST"])
def project_settings(request, project_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        assigned = save_project_settings(form.save(commit=False), actor=request.user)
        messages.success(request, "Project settings saved." + (f" {assigned} documents assigned." if assigned else ""))
        return redirect("project_settings", project.pk)
    context = {
        "project": project,
        "form": form,
        "labels": project.labels.annotate(span_count=Count("spans")),
        "memberships": project.memberships.select_related("user"),
        "roles": Membership.Role.choices,
        "label_form": LabelForm(project=project),
    }
    return render(request, "annotation/project_settings.html", context)


@require_POST
def label_save(request, project_id, label_id=None):
    project = project_for(request.user, project_id, Role.ADMIN)
    label = get_object_or_404(Label, pk=label_id, project=project) if label_id else None
    form = LabelForm(request.POST, instance=label, project=project)
    if form.is_valid():
        save_label(form.save(commit=False), actor=request.user)
        messages.success(request, f"Label {form.instance.name} saved.")
    else:
        for field, errors in form.errors.items():
            name = form.fields[field].label if field in form.fields else "Label"
            messages.error(request, f"{name}: {' '.join(errors)}")
    return redirect("project_settings", project.pk)


@require_POST
def label_delete(request, project_id, label_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    label = get_object_or_404(Label, pk=label_id, project=project)
    try:
        delete_label(label, actor=request.user)
    except LabelInUse as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Label {label.name} deleted.")
    return redirect("project_settings", project_id)


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
    return {"max_mb": settings.IMPORT_MAX_BYTES // 1_000_000}


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
    context = {
        **_import_context(job),
        "mapping_form": mapping_form,
        "format_label": FORMATS.get(job.format, job.format),
    }
    return render(request, "annotation/import_job.html", context)


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


@require_GET
def export_download(request, project_id):
    project = project_for(request.user, project_id, Role.REVIEWER)
    form = ExportForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            "Choose an export format (" + ", ".join(EXPORT_FORMATS) + ") and a scope (finished or all).",
            status=400,
            content_type="text/plain",
        )
    return export_response(project, form.cleaned_data["format"], form.cleaned_data["scope"])


def export_response(project, fmt: str, scope: str) -> StreamingHttpResponse:
    """The project's documents in export format `fmt`, streamed as a download (page and API)."""
    documents = selectors.export_documents(project, finished_only=scope == "finished")
    export = EXPORT_FORMATS[fmt]
    response = StreamingHttpResponse(export_documents(fmt, documents), content_type=export.content_type)
    filename = f"{slugify(project.name) or 'project'}-{scope}{export.extension}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_POST
def member_save(request, project_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    try:
        membership = set_role(
            project, request.POST.get("username", ""), request.POST.get("role", ""), actor=request.user
        )
    except MembershipRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{membership.user} is now {membership.get_role_display().lower()}.")
    return redirect("project_settings", project.pk)


@require_POST
def member_remove(request, project_id, membership_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id, project=project)
    try:
        remove_member(project, membership, actor=request.user)
    except MembershipRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{membership.user} no longer belongs to {project.name}.")
    return redirect("project_settings", project.pk)


AUDIT_PER_PAGE = 100


@require_GET
def audit_log(request, project_id):
    project = project_for(request.user, project_id, Role.REVIEWER)
    entries = AuditEntry.objects.filter(project_id=project.pk)
    actions = sorted(set(entries.values_list("action", flat=True)))
    chosen = {key: request.GET.get(key, "").strip() for key in ("action", "actor", "document")}
    if chosen["action"]:
        entries = entries.filter(action=chosen["action"])
    if chosen["actor"]:
        entries = entries.filter(actor_name=chosen["actor"])
    if chosen["document"].isdigit() and len(chosen["document"]) < 19:  # a bigint
        entries = entries.filter(document_id=int(chosen["document"]))
    page = Paginator(entries, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.before_text, entry.after_text = describe(entry.before), describe(entry.after)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"project": project, "page": page, "actions": actions, "chosen": chosen, "query": query.urlencode()}
    return render(request, "annotation/audit_log.html", context)
