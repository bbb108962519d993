"""Projects: the list, creating one, its documents (filtered, paged, counted) and its settings."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotation import selectors
from annotation.access import Role, check_creates_projects, project_for, uses_assignments, visible_projects
from annotation.exports import rule_summary
from annotation.forms import (
    DocumentFilterForm,
    ExportForm,
    LabelForm,
    NewProjectForm,
    ProjectForm,
)
from annotation.masking import mask_for_visitor
from annotation.models import Annotation, Document, Membership
from annotation.review import ExportRule
from annotation.services import (
    ProjectRefused,
    create_project,
    save_project_settings,
)
from studio.users import creates_projects

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
    context = {"projects": projects, "creates_projects": creates_projects(request.user)}
    return render(request, "annotation/project_list.html", context)


@require_http_methods(["GET", "POST"])
def project_create(request):
    check_creates_projects(request.user)
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
    mask_for_visitor(project, page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "project": project,
        "page": page,
        "filters": filters,
        "has_documents": page.paginator.count or Document.objects.filter(project=project).exists(),
        "query": query.urlencode(),
    }
    if project.role in (Role.REVIEWER, Role.ADMIN):
        context["export_form"] = ExportForm(project=project)
        context["export_summary"] = rule_summary(project, ExportRule())
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
