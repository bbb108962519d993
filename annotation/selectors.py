"""Reads: the queries behind pages, exports and the API."""

import re
from collections.abc import Iterator

from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce, Substr

from annotation.assistance import assistant
from annotation.masking import sees_identifying
from annotation.models import Annotation, Assignment, Document, Project, Span
from annotation.review import ExportRule, exported_version
from annotation.text.formats.documents import NOT_STARTED, ExportDocument

EXPORT_CHUNK = 500
OPENING = 200  # characters of a text enough for its first words


def export_documents(project: Project, *, finished_only: bool, rule: ExportRule) -> Iterator[ExportDocument]:
    """Every document of the project, chunk by chunk, so memory stays flat on big projects;
    `review.exported_version` decides what each carries."""
    annotations = Annotation.objects.select_related("annotator").prefetch_related(
        Prefetch("spans", queryset=Span.objects.select_related("label").order_by("start"))
    )
    documents = (
        Document.objects.filter(project=project)
        .order_by("id")
        .prefetch_related(Prefetch("annotations", queryset=annotations))
    )
    for document in documents.iterator(chunk_size=EXPORT_CHUNK):
        everyone = list(document.annotations.all())
        exported = exported_version(everyone, rule, finished_only=finished_only)
        if exported is None:
            continue
        yield ExportDocument(
            id=document.pk,
            title=document.title,
            external_id=document.external_id,
            text=document.text,
            token_starts=document.token_starts,
            token_ends=document.token_ends,
            spans=[(s.start, s.end, s.label.name) for s in exported.spans],
            metadata=document.metadata,
            status=exported.status,
            concepts={(s.start, s.end): s.concept_id for s in exported.spans if s.concept_id},
            annotations=_per_person(everyone, finished_only=finished_only),
        )


def _per_person(annotations: list[Annotation], *, finished_only: bool) -> list[tuple[str, list]]:
    """Each annotator's version, for formats that keep them all (Label Studio), and the
    reviewed gold under its reviewer's name where that reviewer has no version of their own."""
    versions = [a for a in annotations if not a.is_gold and (not finished_only or a.status in Annotation.FINISHED)]
    rows = [(_person(a.annotator), a) for a in versions]
    gold = next((a for a in annotations if a.is_gold and a.status == Annotation.Status.REVIEWED), None)
    if gold is not None and _person(gold.annotator) not in {name for name, _ in rows}:
        rows.append((_person(gold.annotator), gold))
    return [(name, [(s.start, s.end, s.label.name) for s in a.spans.all()]) for name, a in rows]


def _person(user) -> str:
    return user.email or user.get_username()


def document_ids(
    project: Project,
    *,
    query: str = "",
    status: str = "",
    annotator_id: int | None = None,
    has_suggestions: bool = False,
    assigned_to=None,
    external_id: str = "",
    own=None,
    viewer=None,
) -> QuerySet:
    """Ids of the documents matching the filters, in order: cheap to count and to page.

    With `own` (an annotator), `status` means that person's own annotation's status;
    `has_suggestions` means suggestions `viewer` has not decided on yet."""
    documents = Document.objects.filter(project=project)
    if external_id:
        documents = documents.filter(external_id=external_id)
    if assigned_to is not None:
        documents = documents.filter(Exists(Assignment.objects.filter(document=OuterRef("pk"), user=assigned_to)))
    if has_suggestions:
        documents = assistant().with_open_suggestions(documents, viewer)
    if query:
        documents = documents.filter(search=search_query(query))
        if not sees_identifying(project):
            documents = documents.exclude(Exists(_identifying_match(query)))
    annotations = Annotation.objects.filter(document=OuterRef("pk"))
    if own is not None:
        annotations = annotations.filter(annotator=own)
    elif annotator_id:
        annotations = annotations.filter(annotator_id=annotator_id)
        if not status:
            documents = documents.filter(Exists(annotations))
    if status == NOT_STARTED:
        documents = documents.filter(~Exists(annotations))
    elif status:
        documents = documents.filter(Exists(annotations.filter(status=status)))
    return documents.order_by("id").values_list("pk", flat=True)


def _identifying_match(query: str) -> QuerySet:
    """Identifying spans of the outer document whose own words match the search: a visitor
    who reads them masked must not find the document by them either."""
    document_text = Substr("annotation__document__text", F("start") + 1, F("end") - F("start"))
    return (
        Span.objects.filter(annotation__document=OuterRef("pk"), label__identifying=True)
        .annotate(words=SearchVector(document_text, config="english"))
        .filter(words=search_query(query))
    )


def document_names(ids) -> dict[int, str]:
    """Each document's name (its title, or the first words of its text), loading only the
    opening of each text."""
    rows = (
        Document.objects.filter(pk__in=list(ids))
        .only("pk", "title", "external_id")
        .annotate(opening=Substr("text", 1, OPENING))
    )
    return {document.pk: document.name for document in rows}


def search_query(text: str) -> SearchQuery:
    """Every word, as a prefix: "BRCA" finds BRCA1 and "dystroph" dystrophy, as people expect
    of a search box. Quotes, `or` and `-word` keep their web-search meaning."""
    words = re.findall(r"\w+", text)
    if not words or re.search(r'"|(^|\s)-\w|\bor\b', text, re.IGNORECASE):
        return SearchQuery(text, search_type="websearch", config="english")
    return SearchQuery(" & ".join(f"{word}:*" for word in words), search_type="raw", config="english")


def document_rows(ids: list[int], own=None) -> list[Document]:
    """One page of the document list, with what its table shows; with `own` (an annotator),
    the status is that person's."""
    annotations = Annotation.objects.filter(document=OuterRef("pk"))
    if own is not None:
        annotations = annotations.filter(annotator=own)
    rows = (
        Document.objects.filter(pk__in=ids)
        .only("pk", "title", "external_id", "project_id")
        .annotate(
            opening=Substr("text", 1, OPENING),
            annotation_count=Coalesce(
                Subquery(annotations.values("document").annotate(n=Count("pk")).values("n")[:1]), 0
            ),
            submitted=Exists(annotations.filter(status__in=Annotation.FINISHED)),
        )
        .order_by("id")
    )
    return list(rows)


def annotators(project: Project):
    User = get_user_model()
    worked = Annotation.objects.filter(annotator=OuterRef("pk"), document__project=project)
    return User.objects.filter(Exists(worked)).order_by("username")


def status_counts(project: Project, own=None) -> dict[str, int]:
    """Documents per annotation status (a document counts once per status it has), documents
    with any annotation, all documents, and those not started: two index-backed queries.
    With `own` (an annotator), only that person's annotations count."""
    counts = {status: 0 for status in Annotation.Status.values}
    mine, parameters = ("AND a.annotator_id = %s", [project.pk, own.pk]) if own is not None else ("", [project.pk])
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.status, COUNT(DISTINCT a.document_id)
            FROM annotation_annotation a JOIN annotation_document d ON d.id = a.document_id
            WHERE d.project_id = %s {mine}
            GROUP BY GROUPING SETS ((a.status), ())
            """,
            parameters,
        )
        started = 0
        for status, documents in cursor.fetchall():
            if status is None:
                started = documents
            else:
                counts[status] = documents
    counts["all"] = Document.objects.filter(project=project).count()
    counts[NOT_STARTED] = counts["all"] - started
    return counts


def submitted_tags(project: Project) -> dict[str, dict[str, list[str]]]:
    """annotator -> document id -> BIO tags, for every submitted annotation of the project."""
    rows = Annotation.objects.filter(document__project=project, status=Annotation.Status.SUBMITTED).values_list(
        "annotator__username", "document_id", "bio_tags"
    )
    tags: dict[str, dict[str, list[str]]] = {}
    for username, document_id, bio_tags in rows.iterator(chunk_size=1000):
        tags.setdefault(username, {})[str(document_id)] = bio_tags
    return tags
