"""Downloading a project's annotations in an export format."""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotation.access import Role, project_for
from annotation.exports import rule_summary, streamed_export
from annotation.forms import ExportForm
from annotation.text.formats.detect import EXPORT_FORMATS
from studio import access_log


@require_GET
def export_download(request, project_id):
    project = project_for(request.user, project_id, Role.REVIEWER)
    form = ExportForm(request.GET, project=project)
    if not form.is_valid():
        problem = " ".join(form.rule_problems() + form.redaction_problems()) or (
            f"Choose an export format ({', '.join(EXPORT_FORMATS)}) and a scope (finished or all)."
        )
        return HttpResponse(problem, status=400, content_type="text/plain")
    data = form.cleaned_data
    return streamed_export(
        project,
        data["format"],
        data["scope"],
        data["export_rule"],
        data["redaction"],
        reader=request.user,
        via=access_log.Via.PAGE,
    )


@require_GET
def export_rule(request, project_id):
    """The chosen rule in words and how many documents it decides, under the export form."""
    project = project_for(request.user, project_id, Role.REVIEWER)
    form = ExportForm(request.GET, project=project)
    form.is_valid()  # only the rule matters here; the format may not be chosen yet
    problem = " ".join(form.rule_problems())
    summary = "" if problem else rule_summary(project, form.cleaned_data["export_rule"])
    return render(request, "annotation/partials/export_rule.html", {"summary": summary, "problem": problem})
