"""Replacing all spans of an annotation at once (the PUT of the span API), against Postgres."""

import pytest

from annotation import editing
from annotation.models import AnnotationChange, Label, Span
from annotation.services import create_project
from studio.models import AuditEntry
from tests.conftest import make_document

pytestmark = pytest.mark.django_db

TEXT = "Patients with lung cancer received cisplatin chemotherapy after aspirin-induced asthma."


@pytest.fixture
def document(project):
    return make_document(project, TEXT, "Case 1")


@pytest.fixture
def annotation(document, user):
    return editing.annotation_for(document, user)


def label(project, name):
    return Label.objects.get(project=project, name=name)


def at(text):
    start = TEXT.index(text)
    return start, start + len(text)


def span(project, text, label_name):
    return (*at(text), label(project, label_name))


def tag(annotation, text, label_name):
    """Add one span the way the editor does; returns the annotation at its new version."""
    start, end = at(text)
    document = annotation.document
    first, last = document.token_starts.index(start), document.token_ends.index(end)
    return editing.add_span(
        annotation,
        version=annotation.version,
        first_token=first,
        last_token=last,
        label=label(document.project, label_name),
    ).annotation


def current(annotation):
    return list(annotation.spans.order_by("start").values_list("start", "end", "label__name"))


def state(annotation):
    annotation.refresh_from_db()
    return (
        current(annotation),
        annotation.version,
        list(annotation.bio_tags),
        AnnotationChange.objects.count(),
        AuditEntry.objects.count(),
    )


def expected_tags(document, *entities):
    """IOB2 tags built from token positions, independent of the code under test."""
    tags = ["O"] * len(document.token_starts)
    for text, label_name in entities:
        start, end = at(text)
        first, last = document.token_starts.index(start), document.token_ends.index(end)
        tags[first] = f"B-{label_name}"
        tags[first + 1 : last + 1] = [f"I-{label_name}"] * (last - first)
    return tags


def test_replacing_sets_exactly_the_given_spans_and_undo_brings_the_old_ones_back(project, document, annotation):
    annotation = tag(annotation, "lung cancer", "DISEASE")
    assert annotation.version == 2

    result = editing.replace_spans(
        annotation,
        version=2,
        spans=[span(project, "asthma", "DISEASE"), span(project, "cisplatin chemotherapy", "TREATMENT")],
    )

    annotation.refresh_from_db()
    assert current(annotation) == [
        (*at("cisplatin chemotherapy"), "TREATMENT"),
        (*at("asthma"), "DISEASE"),
    ]
    assert annotation.bio_tags == expected_tags(
        document, ("cisplatin chemotherapy", "TREATMENT"), ("asthma", "DISEASE")
    )
    assert annotation.version == 3 and result.annotation.version == 3
    assert result.message == "Replaced spans: 2 added, 1 removed."
    assert result.touched == sorted([at("lung cancer"), at("cisplatin chemotherapy"), at("asthma")])
    assert [change.action for change in AnnotationChange.objects.all()] == ["add", "replace"]

    undone = editing.undo(annotation, version=3)
    annotation.refresh_from_db()
    assert current(annotation) == [(*at("lung cancer"), "DISEASE")]
    assert annotation.bio_tags == expected_tags(document, ("lung cancer", "DISEASE"))
    assert undone.annotation.version == 4

    editing.redo(annotation, version=4)
    annotation.refresh_from_db()
    assert current(annotation) == [(*at("cisplatin chemotherapy"), "TREATMENT"), (*at("asthma"), "DISEASE")]


def test_a_stale_version_raises_version_conflict_and_changes_nothing(project, annotation):
    annotation = tag(annotation, "lung cancer", "DISEASE")
    before = state(annotation)
    with pytest.raises(editing.VersionConflict) as conflict:
        editing.replace_spans(annotation, version=1, spans=[span(project, "asthma", "DISEASE")])
    assert conflict.value.current_version == 2
    assert state(annotation) == before


def _token(text):
    start, end = at(text)
    return f'the token "{text}" ({start}–{end})'


EDGES = "; spans must start and end on token edges."
ASTHMA = at("asthma")


@pytest.mark.parametrize(
    ("offsets", "label_name", "problem"),
    [
        ((at("aspirin")[0] + 2, at("aspirin")[1]), "DISEASE", f"starts inside {_token('aspirin')}{EDGES}"),
        (
            (at("chemotherapy")[0], at("chemotherapy")[1] - 3),
            "TREATMENT",
            f"ends inside {_token('chemotherapy')}{EDGES}",
        ),
        ((ASTHMA[0] - 1, ASTHMA[1]), "DISEASE", f"starts in the space before {_token('asthma')}{EDGES}"),
        (
            (at("received")[0], at("received")[1] + 1),
            "DISEASE",
            f"ends in the space after {_token('received')}{EDGES}",
        ),
        ((ASTHMA[0], len(TEXT) + 5), "DISEASE", f"is outside the text (0–{len(TEXT)})."),
        ((ASTHMA[1], ASTHMA[0]), "DISEASE", "ends before it starts."),
        ((ASTHMA[0], ASTHMA[0]), "DISEASE", "is empty."),
        ((ASTHMA[0], ASTHMA[1]), "other project's DISEASE", "DISEASE is not a label of this project."),
    ],
    ids=[
        "start-mid-token",
        "end-mid-token",
        "start-in-space",
        "end-in-space",
        "out-of-range",
        "reversed",
        "empty",
        "foreign-label",
    ],
)
def test_a_bad_span_is_refused_by_number_and_changes_nothing(project, annotation, offsets, label_name, problem):
    if label_name.startswith("other project's "):
        wrong_label = label(create_project("Other"), label_name.removeprefix("other project's "))
    else:
        wrong_label = label(project, label_name)
    annotation = tag(annotation, "lung cancer", "DISEASE")
    before = state(annotation)
    with pytest.raises(editing.EditRejected) as rejected:
        editing.replace_spans(
            annotation, version=2, spans=[span(project, "cisplatin", "TREATMENT"), (*offsets, wrong_label)]
        )
    assert str(rejected.value) == f"Span 2 ({wrong_label.name} {offsets[0]}–{offsets[1]}): {problem}"
    assert state(annotation) == before


def test_overlapping_spans_are_refused_naming_both_by_their_numbers(project, annotation):
    annotation = tag(annotation, "asthma", "DISEASE")
    before = state(annotation)
    given = [
        span(project, "cancer received", "DISEASE"),
        span(project, "cisplatin", "TREATMENT"),
        span(project, "lung cancer", "DISEASE"),
    ]
    with pytest.raises(editing.EditRejected) as rejected:
        editing.replace_spans(annotation, version=2, spans=given)
    (s1, e1), (s3, e3) = at("cancer received"), at("lung cancer")
    assert str(rejected.value) == (
        f"Span 3 (DISEASE {s3}–{e3}): overlaps span 1 (DISEASE {s1}–{e1}); spans may not overlap."
    )
    assert state(annotation) == before


def test_the_same_span_twice_is_an_overlap(project, annotation):
    before = state(annotation)
    twice = span(project, "asthma", "DISEASE")
    with pytest.raises(editing.EditRejected, match=r"^Span 2 .*overlaps span 1 "):
        editing.replace_spans(annotation, version=1, spans=[twice, twice])
    assert state(annotation) == before


def test_unchanged_spans_keep_their_provenance_and_new_ones_are_manual(project, document, annotation):
    document_tokens = document.token_starts, document.token_ends
    for text, label_name in [("cisplatin", "TREATMENT"), ("asthma", "DISEASE")]:
        start, end = at(text)
        editing.add_span(
            annotation,
            version=annotation.version,
            first_token=document_tokens[0].index(start),
            last_token=document_tokens[1].index(end),
            label=label(project, label_name),
            source=Span.Source.SUGGESTION,
            edited_before_accept=True,
        )
        annotation.refresh_from_db()

    editing.replace_spans(
        annotation,
        version=3,
        spans=[
            span(project, "lung cancer", "DISEASE"),
            span(project, "cisplatin", "TREATMENT"),  # as it was
            span(project, "asthma", "TREATMENT"),  # same text, other label: a new span
        ],
    )

    rows = {
        (start, end): (source, edited)
        for start, end, source, edited in annotation.spans.values_list("start", "end", "source", "edited_before_accept")
    }
    assert rows == {
        at("lung cancer"): (Span.Source.MANUAL, False),
        at("cisplatin"): (Span.Source.SUGGESTION, True),
        at("asthma"): (Span.Source.MANUAL, False),
    }


def test_an_empty_list_removes_every_span(project, document, annotation):
    annotation = tag(annotation, "lung cancer", "DISEASE")
    annotation = tag(annotation, "cisplatin", "TREATMENT")
    result = editing.replace_spans(annotation, version=3, spans=[])
    annotation.refresh_from_db()
    assert current(annotation) == []
    assert annotation.bio_tags == ["O"] * len(document.token_starts)
    assert annotation.version == 4
    assert result.message == "Replaced spans: 0 added, 2 removed."


def test_the_replacement_is_audited_with_the_rows_before_and_after(project, document, annotation, user):
    annotation = tag(annotation, "lung cancer", "DISEASE")
    disease = label(project, "DISEASE")
    editing.replace_spans(annotation, version=2, spans=[span(project, "asthma", "DISEASE")])
    entry = AuditEntry.objects.get(action="annotation.replace")
    assert (entry.actor_id, entry.project_id, entry.document_id) == (user.pk, project.pk, document.pk)
    assert (entry.object_type, entry.object_id) == ("annotation", annotation.pk)
    assert entry.before == [[*at("lung cancer"), disease.pk, "manual", None, False]]
    assert entry.after == [[*at("asthma"), disease.pk, "manual", None, False]]


def test_sending_the_current_spans_again_is_a_no_op(project, annotation):
    annotation = tag(annotation, "lung cancer", "DISEASE")
    annotation = tag(annotation, "asthma", "DISEASE")
    before = state(annotation)
    result = editing.replace_spans(
        annotation,
        version=3,
        spans=[span(project, "asthma", "DISEASE"), span(project, "lung cancer", "DISEASE")],  # any order
    )
    assert result.touched == [] and result.annotation.version == 3
    assert state(annotation) == before
    with pytest.raises(editing.VersionConflict):
        editing.replace_spans(annotation, version=2, spans=[])


def test_hundreds_of_spans_on_a_long_document_take_a_fixed_number_of_queries(
    project, user, django_assert_max_num_queries
):
    sentence = "Chronic kidney disease was treated with oral prednisolone daily. "
    document = make_document(project, sentence * 600)  # 6,600 tokens
    annotation = editing.annotation_for(document, user)
    disease, treatment = label(project, "DISEASE"), label(project, "TREATMENT")
    spans = []
    for i in range(600):
        offset = i * len(sentence)
        spans.append((offset + sentence.index("kidney disease"), offset + 22, disease))
        spans.append((offset + sentence.index("prednisolone"), offset + 57, treatment))
    assert {document.text[s:e] for s, e, _ in spans} == {"kidney disease", "prednisolone"}

    with django_assert_max_num_queries(20):
        result = editing.replace_spans(annotation, version=1, spans=spans)

    assert annotation.spans.count() == 1200
    assert result.annotation.bio_tags.count("B-DISEASE") == 600
    assert result.annotation.bio_tags.count("I-DISEASE") == 600
    assert result.annotation.bio_tags.count("B-TREATMENT") == 600
