"""A project's documents as a streamed download, for the export page, the API and the command."""

from django.http import StreamingHttpResponse
from django.utils.text import slugify

from annotation import selectors
from annotation.models import Annotation, Project
from annotation.review import ExportRule, unresolved_disagreements
from annotation.text.formats.detect import EXPORT_FORMATS, export_documents
from annotation.text.redact import MODES, Redaction
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


def export_redaction(project: Project, mode: str, label_names: list[str] = ()) -> Redaction | None:
    """What an export hides: nothing without a mode, else the named labels' text, or the
    identifying labels' when none are named. ValueError says what is wrong with the choice."""
    if not mode:
        if label_names:
            raise ValueError("Choose how to redact (mask or tag) for the labels to redact.")
        return None
    if mode not in MODES:
        raise ValueError(f"Redact with one of {', '.join(MODES)}, not {mode!r}.")
    labels = {label.name: label for label in project.labels.all()}
    unknown = sorted({name for name in label_names if name.upper() not in labels})
    if unknown:
        raise ValueError(f"Unknown label {', '.join(unknown)}; the project's labels are {', '.join(labels)}.")
    chosen = {name.upper() for name in label_names} or {name for name, label in labels.items() if label.identifying}
    if not chosen:
        raise ValueError(
            "The project has no identifying label to redact: mark one on the settings page, or name the labels."
        )
    return Redaction(frozenset(chosen), mode)


def export_chunks(
    project: Project,
    fmt: str,
    *,
    finished_only: bool,
    rule: ExportRule,
    reader,
    via: str,
    redaction: Redaction | None = None,
):
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
        yield from export_documents(fmt, counted(documents), labels=labels, redaction=redaction)
    finally:
        scope = "finished" if finished_only else "all"
        redacted = f", {redaction.mode} redacted" if redaction else ""
        access_log.record(
            reader,
            access_log.Action.EXPORT,
            via=via,
            project=project,
            documents=handed,
            detail=f"{fmt}, {scope}{redacted}",
        )


def streamed_export(
    project: Project, fmt: str, scope: str, rule: ExportRule, redaction: Redaction | None = None, *, reader, via: str
) -> StreamingHttpResponse:
    """The project's documents in export format `fmt`, streamed as a download (page and API)."""
    export = EXPORT_FORMATS[fmt]
    chunks = export_chunks(
        project, fmt, finished_only=scope == "finished", rule=rule, reader=reader, via=via, redaction=redaction
    )
    response = StreamingHttpResponse(chunks, content_type=export.content_type)
    redacted = "-redacted" if redaction else ""
    filename = f"{slugify(project.name) or 'project'}-{scope}{redacted}{export.file_ending}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
