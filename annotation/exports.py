"""A project's documents as a streamed download, for the export page, the API and the command."""

from django.http import StreamingHttpResponse
from django.utils.text import slugify

from annotation import selectors
from annotation.models import Annotation, Project
from annotation.review import ExportRule, unresolved_disagreements
from annotation.text.formats.detect import EXPORT_FORMATS, export_documents
from studio import access_log


def export_rule(project: Project, kind: str, annotator: str = "") -> ExportRule:
    """The rule for documents whose annotators disagree and that nobody reviewed; ValueError
    says what is wrong with the choice."""
    if kind == ExportRule.ANNOTATOR and annotator:
        versions = Annotation.objects.filter(document__project=project, is_gold=False, annotator__username=annotator)
        if not versions.exists():
            raise ValueError(f"{annotator} has not annotated any document of this project.")
    return ExportRule(kind, annotator)


def rule_summary(project: Project, rule: ExportRule) -> str:
    """How many documents the rule decides, and what it does with them, in a sentence."""
    count = unresolved_disagreements(project).count()
    if not count:
        return "Every document several people annotated is either reviewed or annotated the same way by all of them."
    documents = "1 document has" if count == 1 else f"{count} documents have"
    return f"{documents} disagreeing annotators and no review: {rule.describe()}."


def export_chunks(project: Project, fmt: str, *, finished_only: bool, rule: ExportRule, reader, via: str):
    """The export's chunks; when the stream ends, finished or cut off, the access log records
    `reader` and every document handed to the format so far."""
    labels = project.labels.order_by("pk").values_list("name", flat=True)
    handed = []

    def counted(documents):
        for document in documents:
            handed.append(document.id)
            yield document

    documents = selectors.export_documents(project, finished_only=finished_only, rule=rule)
    try:
        yield from export_documents(fmt, counted(documents), labels=labels)
    finally:
        scope = "finished" if finished_only else "all"
        access_log.record(
            reader, access_log.Action.EXPORT, via=via, project=project, documents=handed, detail=f"{fmt}, {scope}"
        )


def streamed_export(project: Project, fmt: str, scope: str, rule: ExportRule, *, reader, via: str):
    """The project's documents in export format `fmt`, streamed as a download (page and API)."""
    export = EXPORT_FORMATS[fmt]
    chunks = export_chunks(project, fmt, finished_only=scope == "finished", rule=rule, reader=reader, via=via)
    response = StreamingHttpResponse(chunks, content_type=export.content_type)
    filename = f"{slugify(project.name) or 'project'}-{scope}{export.file_ending}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
