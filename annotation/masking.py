"""Who reads the text of identifying labels, and the masked text everyone else gets.

Reviewers and admins read it; annotators read it only where the project allows them. For
the others the server masks it before any page, partial or API answer is built (the same
length, so offsets and tokens stay right), never in the browser.
"""

from collections import defaultdict
from collections.abc import Iterable

from annotation.assistance import assistant
from annotation.models import Document, Membership, Project, Span
from annotation.text.redact import mask


def sees_identifying(project: Project) -> bool:
    """Whether the visitor `access.project_for` found the project for reads identifying text
    (a project loaded without a visitor, by a command or a task, reads everything)."""
    return getattr(project, "role", None) != Membership.Role.ANNOTATOR or project.annotators_see_identifying


def identifying_ranges(document_ids: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
    """Each document's character ranges that any annotation (gold included) or suggestion
    tags with an identifying label: what one person or model marks is hidden from every
    annotator who may not see it."""
    document_ids = list(document_ids)
    spans = Span.objects.filter(annotation__document_id__in=document_ids, label__identifying=True)
    ranges = defaultdict(list)
    for document_id, start, end in [
        *spans.values_list("annotation__document_id", "start", "end"),
        *assistant().identifying_ranges(document_ids),
    ]:
        ranges[document_id].append((start, end))
    return ranges


def mask_for_visitor(project: Project, documents: Iterable[Document]) -> None:
    """Mask, in place, the text (or the list's opening) of documents the visitor may not read
    in full. A masked document refuses to be saved with its text."""
    documents = list(documents)
    if sees_identifying(project) or not documents:
        return
    ranges = identifying_ranges(document.pk for document in documents)
    for document in documents:
        document.text_masked = True
        hidden = ranges.get(document.pk)
        if not hidden:
            continue
        if "text" not in document.get_deferred_fields():
            document.text = mask(document.text, hidden)
        if "opening" in document.__dict__:
            document.opening = mask(document.opening, hidden)
