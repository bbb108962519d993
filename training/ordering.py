"""Model-driven document orders: most uncertain first (by the least confident token or by
mean entropy) and rare label first, from the active model's document scores."""

from django.db.models import F, FloatField, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from annotation.models import Annotation, Document, Project, Span
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


def rank(project: Project, candidates: QuerySet) -> QuerySet | None:
    """`candidates` in the project's model-driven order; None without an active model."""
    version = ModelVersion.objects.active_for(project)
    if version is None:
        return None
    order = project.document_order
    if order == Order.UNCERTAIN:
        return candidates.annotate(key=_score(version, "min_max_probability")).order_by(
            F("key").asc(nulls_last=True), "pk"
        )
    if order == Order.ENTROPY:
        return candidates.annotate(key=_score(version, "mean_entropy")).order_by(F("key").desc(nulls_last=True), "pk")
    label = rarest_label(project) or ""
    expected = Subquery(
        DocumentScore.objects.filter(model_version=version, document=OuterRef("pk"))
        .annotate(value=Cast(KeyTextTransform(label, "expected_counts"), FloatField()))
        .values("value")[:1]
    )
    return candidates.annotate(key=expected).order_by(F("key").desc(nulls_last=True), "pk")


def reason(project: Project, document: Document) -> str:
    """Why the model's order brings this document up, in words for the annotator."""
    version = ModelVersion.objects.active_for(project)
    score = DocumentScore.objects.filter(model_version=version, document=document).first() if version else None
    if score is None:
        return "No model has scored this document yet, so it comes in import order."
    order = project.document_order
    if order == Order.UNCERTAIN:
        return f"Chosen because the model is unsure here: its least confident token has p = {score.min_max_probability:.2f}."
    if order == Order.ENTROPY:
        return f"Chosen because the model is unsure here: mean token entropy {score.mean_entropy:.2f}."
    label = rarest_label(project)
    expected = score.expected_counts.get(label, 0.0)
    return f"Chosen because it likely holds {label}, the rarest label (about {expected:.1f} expected mentions)."
