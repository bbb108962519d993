"""Adjudication: a reviewer compares the annotators' submitted versions of a document and
builds its gold annotation, which training and exports prefer. The gold is a row of its own
(`is_gold`), so a reviewer who annotated the document too keeps their version as one
candidate among the others. Where nobody reviewed a document whose annotators disagree, an
export follows the rule it was given (`ExportRule`); this module is the one place that
decides what an export writes for a document."""

from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from annotation import editing
from annotation.models import Annotation, Document, Label, Project, Span
from annotation.text.bio import char_span_to_token_span
from annotation.text.formats.documents import NOT_STARTED
from studio.audit import record

Mention = tuple[int, int, str]


def submitted_versions(document: Document) -> list[tuple[str, list[Mention]]]:
    """Every annotator's submitted version (the reviewer's own too), by user name."""
    annotations = (
        Annotation.objects.filter(document=document, is_gold=False, status=Annotation.Status.SUBMITTED)
        .select_related("annotator")
        .prefetch_related("spans__label")
        .order_by("annotator__username")
    )
    return [
        (a.annotator.get_username(), sorted((s.start, s.end, s.label.name) for s in a.spans.all())) for a in annotations
    ]


def agreed(versions: list[tuple[str, list[Mention]]]) -> set[Mention]:
    """Spans every annotator made identically (needs two versions or more)."""
    if len(versions) < 2:
        return set()
    sets = [set(spans) for _, spans in versions]
    return set.intersection(*sets)


def gold_of(document: Document) -> Annotation | None:
    return Annotation.objects.filter(document=document, is_gold=True).select_related("annotator").first()


def add_to_gold(gold: Annotation, mention: Mention, *, version: int) -> editing.EditResult:
    document = gold.document
    start, end, label_name = mention
    label = Label.objects.filter(project_id=document.project_id, name=label_name).first()
    if label is None:
        raise editing.EditRejected(f"The project has no label {label_name} any more.")
    try:
        first, end_token = char_span_to_token_span(document.token_starts, document.token_ends, start, end)
    except ValueError as error:
        raise editing.EditRejected(str(error)) from None
    return editing.add_span(gold, version=version, first_token=first, last_token=end_token - 1, label=label)


def start_gold(document: Document, reviewer) -> Annotation:
    """The document's gold annotation; a new one is the reviewer's and starts from the spans
    every annotator agreed on."""
    gold, created = Annotation.objects.get_or_create(
        document=document,
        is_gold=True,
        defaults={"annotator": reviewer, "bio_tags": ["O"] * len(document.token_starts)},
    )
    # Changes are recorded under the reviewer who makes them; the row keeps who started it.
    gold.document, gold.annotator = document, reviewer
    if created:
        record(reviewer, "annotation.gold", project_id=document.project_id, document_id=document.pk, obj=gold)
        for mention in sorted(agreed(submitted_versions(document))):
            gold = add_to_gold(gold, mention, version=gold.version).annotation
    return gold


def mark_reviewed(gold: Annotation, *, version: int) -> editing.EditResult:
    with transaction.atomic():
        locked = Annotation.objects.select_for_update().get(pk=gold.pk)
        if locked.version != version:
            raise editing.VersionConflict(locked.version)
        before = locked.status
        locked.status = Annotation.Status.REVIEWED
        locked.submitted_at = locked.submitted_at or timezone.now()
        locked.version += 1
        locked.save(update_fields=["status", "submitted_at", "version", "updated_at"])
        record(
            gold.annotator,
            "annotation.status",
            project_id=gold.document.project_id,
            document_id=gold.document_id,
            obj=locked,
            before=before,
            after="reviewed",
        )
    return editing.EditResult(locked, [], "Marked reviewed: this is now the gold annotation.")


def unresolved_disagreements(project: Project) -> QuerySet:
    """Documents whose submitted versions differ (their tags, which follow the spans, are not
    all equal) and that have no reviewed gold, in document order."""
    differing = (
        Annotation.objects.filter(document=OuterRef("pk"), is_gold=False, status=Annotation.Status.SUBMITTED)
        .values("document")
        .annotate(variants=Count("bio_tags", distinct=True))
        .filter(variants__gt=1)
    )
    reviewed = Annotation.objects.filter(document=OuterRef("pk"), is_gold=True, status=Annotation.Status.REVIEWED)
    return Document.objects.filter(project=project).filter(Exists(differing), ~Exists(reviewed)).order_by("pk")


def next_disagreement(project: Project, *, after: Document | None) -> Document | None:
    """The next unresolved disagreement after `after` in document order, from the start again
    past the last one; never `after` itself."""
    remaining = unresolved_disagreements(project).only("pk", "project_id")
    if after is None:
        return remaining.first()
    remaining = remaining.exclude(pk=after.pk)
    return remaining.filter(pk__gt=after.pk).first() or remaining.first()


@dataclass(frozen=True)
class ExportRule:
    """What an export writes for a document whose annotators disagree and that nobody has
    reviewed: nothing (the document is left out), one named annotator's version, or the
    spans most annotators made."""

    REVIEWED_ONLY = "reviewed"
    ANNOTATOR = "annotator"
    MAJORITY = "majority"
    CHOICES = [
        (REVIEWED_ONLY, "Disagreements: left out"),
        (ANNOTATOR, "Disagreements: one annotator"),
        (MAJORITY, "Disagreements: majority"),
    ]

    kind: str = REVIEWED_ONLY
    annotator: str = ""  # a user name, for ANNOTATOR

    def __post_init__(self):
        if self.kind not in dict(self.CHOICES):
            raise ValueError(f"Unknown export rule {self.kind!r}; choose reviewed, annotator or majority.")
        if self.kind == self.ANNOTATOR and not self.annotator:
            raise ValueError("Choose the annotator whose versions to export.")
        if self.kind != self.ANNOTATOR and self.annotator:
            raise ValueError("An annotator is named only with the annotator rule.")

    def describe(self) -> str:
        """The rule in words, for the export page and the command's report."""
        if self.kind == self.ANNOTATOR:
            return (
                f"they are exported as {self.annotator} annotated them; those {self.annotator} did not "
                "annotate are left out"
            )
        if self.kind == self.MAJORITY:
            return "they are exported with the spans more than half of their annotators made"
        return "they are left out until someone reviews them"


@dataclass
class ExportedVersion:
    spans: list[Span]
    status: str


def exported_version(annotations: list[Annotation], rule: ExportRule, *, finished_only: bool) -> ExportedVersion | None:
    """What an export writes for one document, from all its annotations (spans and
    annotators loaded): the reviewed gold; else the annotators' submitted versions (in
    progress ones too when the export takes every document) when they agree; else what
    `rule` says. None leaves the document out."""
    gold = next((a for a in annotations if a.is_gold and a.status == Annotation.Status.REVIEWED), None)
    if gold is not None:
        return ExportedVersion(list(gold.spans.all()), gold.status)
    versions = [a for a in annotations if not a.is_gold]
    submitted = [a for a in versions if a.status == Annotation.Status.SUBMITTED]
    versions = submitted or ([] if finished_only else versions)
    if not versions:
        return None if finished_only else ExportedVersion([], NOT_STARTED)
    versions.sort(key=lambda a: a.annotator.get_username())
    keyed = [{(s.start, s.end, s.label.name): s for s in a.spans.all()} for a in versions]
    status = versions[0].status
    if all(spans.keys() == keyed[0].keys() for spans in keyed):
        return ExportedVersion(list(keyed[0].values()), status)
    if rule.kind == ExportRule.ANNOTATOR:
        named = [spans for a, spans in zip(versions, keyed) if a.annotator.get_username() == rule.annotator]
        return ExportedVersion(list(named[0].values()), status) if named else None
    if rule.kind == ExportRule.MAJORITY:
        # Two spans that each have more than half the votes share a voter, and no one
        # annotator's spans overlap, so the majority's spans never overlap either.
        votes = Counter(key for spans in keyed for key in spans)
        first_made = {}
        for spans in keyed:
            for key, span in spans.items():
                first_made.setdefault(key, span)
        chosen = sorted((first_made[key] for key, count in votes.items() if 2 * count > len(keyed)), key=_position)
        return ExportedVersion(chosen, status)
    return None


def _position(span: Span) -> tuple[int, int]:
    return span.start, span.end
