"""Which document "next" opens: in import order, at random, or in an order a model ranks
(most uncertain first, rare label first) through the registered assistant."""

from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import MD5, Cast, Concat

from annotation.access import uses_assignments
from annotation.assistance import assistant
from annotation.models import Annotation, Assignment, Document, Project

Order = Project.DocumentOrder


def next_document(project: Project, user, *, current: Document | None) -> Document | None:
    """The next document this annotator has not finished, in the project's order."""
    finished = Annotation.objects.filter(
        document=OuterRef("pk"), annotator=user, is_gold=False, status__in=Annotation.FINISHED
    )
    candidates = Document.objects.filter(project=project).filter(~Exists(finished)).only("pk", "project_id")
    if uses_assignments(project, user):
        candidates = candidates.filter(Exists(Assignment.objects.filter(document=OuterRef("pk"), user=user)))
    order = project.document_order
    ranked = None
    if order not in (Order.SEQUENTIAL, Order.RANDOM):
        others = candidates.exclude(pk=current.pk) if current is not None else candidates
        ranked = assistant().rank(project, others)
    if ranked is not None:
        return ranked.first()
    if order == Order.RANDOM:
        if current is not None:
            candidates = candidates.exclude(pk=current.pk)
        key = MD5(Concat(Cast("pk", CharField()), Value(f"/{user.pk}")))
        return candidates.annotate(key=key).order_by("key").first()
    if current is not None:
        later = candidates.filter(pk__gt=current.pk).order_by("pk").first()
        return later or candidates.exclude(pk=current.pk).order_by("pk").first()
    return candidates.order_by("pk").first()


def reason(project: Project, document: Document) -> str:
    """Why this document comes up in the project's order, in words for the annotator."""
    order = project.document_order
    if order == Order.SEQUENTIAL:
        return "Documents come in the order they were imported."
    if order == Order.RANDOM:
        return "Documents come in a random order (fixed per annotator)."
    return assistant().order_reason(project, document)
