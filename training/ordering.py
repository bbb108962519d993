"""Which document "next" opens: sequential, random, most uncertain first, or rare label first."""

from django.db.models import CharField, Exists, F, FloatField, OuterRef, Subquery, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import MD5, Cast, Concat

from annotation.access import uses_assignments
from annotation.models import Annotation, Assignment, Document, Project, Span
from training.models import DocumentScore, ModelVersion

Order = Project.DocumentOrder


def rarest_label(project: Project) -> str | None:
    counts = {label.name: 0 for label in project.labels.all()}
    for name in Span.objects.filter(
        annotation__document__project=project, annotation__status__in=Annotation.FINISHED
    ).values_list("label__name", flat=True):
        counts[name] = counts.get(name, 0) + 1
    return min(counts, key=counts.get) if counts else None


def _score(version: ModelVersion, field):
    return Subquery(DocumentScore.objects.filter(model_version=version, document=OuterRef("pk")).values(field)[:1])


def next_document(project: Project, user, *, current: Document | None) -> Document | None:
    """The next document this annotator has not finished, in the project's order."""
    finished = Annotation.objects.filter(document=OuterRef("pk"), annotator=user, status__in=Annotation.FINISHED)
    candidates = Document.objects.filter(project=project).filter(~Exists(finished)).only("pk", "project_id")
    if uses_assignments(project, user):
        candidates = candidates.filter(Exists(Assignment.objects.filter(document=OuterRef("pk"), user=user)))
    version = ModelVersion.objects.active_for(project)
    order = project.document_order
    if order == Order.SEQUENTIAL or (order != Order.RANDOM and version is None):
        if current is not None:
            later = candidates.filter(pk__gt=current.pk).order_by("pk").first()
            return later or candidates.exclude(pk=current.pk).order_by("pk").first()
        return candidates.order_by("pk").first()
    if current is not None:
        candidates = candidates.exclude(pk=current.pk)
    if order == Order.RANDOM:
        key = MD5(Concat(Cast("pk", CharField()), Value(f"/{user.pk}")))
        return candidates.annotate(key=key).order_by("key").first()
    if order == Order.UNCERTAIN:
        ranked = candidates.annotate(key=_score(version, "min_max_probability")).order_by(
            F("key").asc(nulls_last=True), "pk"
        )
    elif order == Order.ENTROPY:
        ranked = candidates.annotate(key=_score(version, "mean_entropy")).order_by(F("key").desc(nulls_last=True), "pk")
    else:
        label = rarest_label(project) or ""
        expected = Subquery(
            DocumentScore.objects.filter(model_version=version, document=OuterRef("pk"))
            .annotate(value=Cast(KeyTextTransform(label, "expected_counts"), FloatField()))
            .values("value")[:1]
        )
        ranked = candidates.annotate(key=expected).order_by(F("key").desc(nulls_last=True), "pk")
    return ranked.first()


def reason(project: Project, document: Document) -> str:
    """Why this document comes up in the project's order, in words for the annotator."""
    order = project.document_order
    if order == Order.SEQUENTIAL:
        return "Documents come in the order they were imported."
    if order == Order.RANDOM:
        return "Documents come in a random order (fixed per annotator)."
    version = ModelVersion.objects.active_for(project)
    score = DocumentScore.objects.filter(model_version=version, document=document).first() if version else None
    if score is None:
        return "No model has scored this document yet, so it comes in import order."
    if order == Order.UNCERTAIN:
        return f"Chosen because the model is unsure here: its least confident token has p = {score.min_max_probability:.2f}."
    if order == Order.ENTROPY:
        return f"Chosen because the model is unsure here: mean token entropy {score.mean_entropy:.2f}."
    label = rarest_label(project)
    expected = score.expected_counts.get(label, 0.0)
    return f"Chosen because it likely holds {label}, the rarest label (about {expected:.1f} expected mentions)."
