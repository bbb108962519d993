"""Downloading a project's annotations in an export format."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from annotation.access import Role, project_for
from annotation.exports import streamed_export
from annotation.forms import (
    ExportForm,
)
from annotation.text.formats.detect import EXPORT_FORMATS


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
    return streamed_export(project, form.cleaned_data["format"], form.cleaned_data["scope"])
