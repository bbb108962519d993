"""Every span edit touches only what it changes: its queries do not grow with the spans the
annotation holds, and the stored BIO tags stay what the spans say (checked after every test)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation import editing
from annotation.models import Label
from tests.conftest import make_document

pytestmark = pytest.mark.django_db

WORDS = 420


def annotation_with(project, user, spans: int):
    """An annotation of a WORDS-word document with `spans` one-word DISEASE spans on every
    fourth word, leaving words 1, 2 and 3 of each four free."""
    text = " ".join(f"word{number}" for number in range(WORDS)) + f" ({spans} spans)"
    document = make_document(project, text, f"{spans} spans")
    disease = Label.objects.get(project=project, name="DISEASE")
    annotation = editing.annotation_for(document, user)
    for first in range(0, 4 * spans, 4):
        annotation = editing.add_span(
            annotation, version=annotation.version, first_token=first, last_token=first, label=disease
        ).annotation
    return annotation


def span_at(annotation, token):
    return annotation.spans.get(start=annotation.document.token_starts[token])


def replace_adding_one(annotation, version, treatment):
    document = annotation.document
    spans = [(span.start, span.end, span.label) for span in annotation.spans.select_related("label")]
    spans.append((document.token_starts[1], document.token_ends[2], treatment))
    return editing.replace_spans(annotation, version=version, spans=spans)


# Each edit as the page or the API makes it, on an annotation whose words 0, 4, 8, ... are spans.
EDITS = {
    "add": lambda a, v, t: editing.add_span(a, version=v, first_token=1, last_token=2, label=t),
    "relabel": lambda a, v, t: editing.change_label(a, version=v, span_id=span_at(a, 4).pk, label=t),
    "delete": lambda a, v, t: editing.delete_span(a, version=v, span_id=span_at(a, 4).pk),
    "undo": lambda a, v, t: editing.undo(a, version=v),
    "redo": lambda a, v, t: editing.redo(editing.undo(a, version=v).annotation, version=v + 1),
    "replace": replace_adding_one,
    "submit": lambda a, v, t: editing.submit(a, version=v),
    "decisions": lambda a, v, t: editing.record_decisions(a, version=v, decisions={}, touched=[], message="x"),
}


def queries_of(edit, annotation):
    treatment = Label.objects.get(project=annotation.document.project, name="TREATMENT")
    annotation = editing.annotation_for(annotation.document, annotation.annotator)
    with CaptureQueriesContext(connection) as captured:
        result = EDITS[edit](annotation, annotation.version, treatment)
    return [query["sql"] for query in captured.captured_queries], result


@pytest.mark.parametrize("edit", EDITS)
def test_an_edit_costs_the_same_queries_on_3_spans_as_on_100(project, user, edit):
    few, many = annotation_with(project, user, 3), annotation_with(project, user, 100)
    few_queries, _ = queries_of(edit, few)
    many_queries, result = queries_of(edit, many)
    assert len(many_queries) == len(few_queries), "\n".join(many_queries)
    assert result.annotation.version == many.version + (2 if edit == "redo" else 1)
    # The tags are written as slices of the changed tokens, never as the whole array.
    assert not [sql for sql in many_queries if '"bio_tags" = ' in sql or "bio_tags = " in sql]


def test_undo_and_redo_apply_the_rows_a_step_changed(project, user):
    annotation = annotation_with(project, user, 5)
    before = sorted(annotation.spans.values_list("start", "end", "label__name"))
    treatment = Label.objects.get(project=project, name="TREATMENT")
    relabelled = editing.change_label(
        annotation, version=annotation.version, span_id=span_at(annotation, 8).pk, label=treatment
    ).annotation
    after = sorted(relabelled.spans.values_list("start", "end", "label__name"))
    [change] = relabelled.changes.filter(action="relabel")
    start, end = annotation.document.token_starts[8], annotation.document.token_ends[8]
    assert (change.removed, change.added) == (
        [[start, end, change.removed[0][2], "manual", None, False]],
        [[start, end, treatment.pk, "manual", None, False]],
    )
    undone = editing.undo(relabelled, version=relabelled.version)
    assert sorted(undone.annotation.spans.values_list("start", "end", "label__name")) == before
    assert undone.touched == [(start, end), (start, end)]
    redone = editing.redo(undone.annotation, version=undone.annotation.version).annotation
    assert sorted(redone.spans.values_list("start", "end", "label__name")) == after


def test_a_replace_that_changes_nothing_keeps_the_version_and_the_history(project, user):
    annotation = annotation_with(project, user, 4)
    spans = [(span.start, span.end, span.label) for span in annotation.spans.select_related("label")]
    steps = annotation.changes.count()
    result = editing.replace_spans(annotation, version=annotation.version, spans=spans)
    assert (result.message, result.annotation.version) == ("No changes.", annotation.version)
    fresh = editing.own_annotation(annotation.document, user)
    assert (fresh.version, fresh.changes.count()) == (annotation.version, steps)


def test_a_refused_edit_leaves_version_spans_and_tags_as_they_were(project, user):
    annotation = annotation_with(project, user, 3)
    tags = list(type(annotation).objects.get(pk=annotation.pk).bio_tags)
    disease = Label.objects.get(project=project, name="DISEASE")
    with pytest.raises(editing.EditRejected, match="overlaps DISEASE"):
        editing.add_span(annotation, version=annotation.version, first_token=3, last_token=5, label=disease)
    fresh = type(annotation).objects.get(pk=annotation.pk)
    assert (fresh.version, fresh.bio_tags, fresh.spans.count()) == (annotation.version, tags, 3)
    with pytest.raises(editing.VersionConflict):
        editing.add_span(annotation, version=annotation.version - 1, first_token=1, last_token=1, label=disease)
    assert type(annotation).objects.get(pk=annotation.pk).version == annotation.version
