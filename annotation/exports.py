"""A project's documents as a streamed download, for the export page and the API alike."""

from django.http import StreamingHttpResponse
from django.utils.text import slugify

from annotation import selectors
from annotation.text.formats.detect import EXPORT_FORMATS, export_documents


def streamed_export(project, fmt: str, scope: str) -> StreamingHttpResponse:
    """The project's documents in export format `fmt`, streamed as a download (page and API)."""
    documents = selectors.export_documents(project, finished_only=scope == "finished")
    export = EXPORT_FORMATS[fmt]
    labels = project.labels.order_by("pk").values_list("name", flat=True)
    response = StreamingHttpResponse(export_documents(fmt, documents, labels=labels), content_type=export.content_type)
    filename = f"{slugify(project.name) or 'project'}-{scope}{export.file_ending}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
