import io
import json
import re

import pytest
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.demo.build_demo import DEMO_FILE, read_terms, treatment_spans
from annotation.management.commands.load_demo import DEMO_NAME
from annotation.models import Document, Span
from training.ml.data import Hyperparameters, split_documents
from training.ml.evaluation import SMALL_DEV_DOCUMENTS, SMALL_DEV_ENTITIES
from training.services import training_annotations, training_documents

TERMS = read_terms()
WORD_CHARACTER = re.compile(r"[\w-]")


def demo_records() -> list[dict]:
    with DEMO_FILE.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def spans_of(record: dict, label: str) -> list[tuple[int, int]]:
    return [(start, end) for start, end, name in record.get("label", []) if name == label]


def assert_whole_word_terms_outside_diseases(text, treatments, diseases):
    terms = {term.lower() for term in TERMS.terms}
    for start, end in treatments:
        assert " ".join(text[start:end].lower().split()) in terms, text[start:end]
        assert start == 0 or not WORD_CHARACTER.match(text[start - 1]), text[max(0, start - 10) : end]
        assert end == len(text) or not WORD_CHARACTER.match(text[end]), text[start : end + 10]
        overlapping = [(s, e) for s, e in diseases if s < end and start < e]
        assert not overlapping, (text[start:end], [text[s:e] for s, e in overlapping])


def test_the_demo_loads_200_annotated_abstracts_both_labels_and_40_left_for_suggestions(admin):
    records = demo_records()
    call_command("load_demo", stdout=io.StringIO())

    documents = Document.objects.filter(project__name=DEMO_NAME)
    annotated = documents.filter(annotations__isnull=False).distinct()
    assert documents.count() == len(records) == 240
    assert annotated.count() == 200
    assert documents.filter(annotations__isnull=True).count() == 40
    assert all(document.annotations.get().spans.exists() for document in annotated)

    # Every span of the file arrives: none is dropped as nested or crossing.
    for label in ("DISEASE", "TREATMENT"):
        in_file = sum(len(spans_of(record, label)) for record in records)
        stored = Span.objects.filter(annotation__document__project__name=DEMO_NAME, label__name=label).count()
        assert stored == in_file
    assert sum(len(spans_of(record, "TREATMENT")) for record in records) >= 90

    # The first run trains on them with the studio's own split and the defaults.
    project = documents.first().project
    train, dev = split_documents(training_documents(training_annotations(project)), Hyperparameters().dev_fraction)
    assert len(train) + len(dev) == 200
    assert len(dev) >= SMALL_DEV_DOCUMENTS
    dev_entities = {
        label: sum(tag == f"B-{label}" for document in dev for tag in document.tags)
        for label in ("DISEASE", "TREATMENT")
    }
    assert dev_entities["DISEASE"] >= SMALL_DEV_ENTITIES
    assert dev_entities["TREATMENT"] > 0


def test_the_demos_treatment_spans_are_exactly_its_term_lists_whole_words_outside_disease_mentions():
    annotated = [record for record in demo_records() if "label" in record]
    assert len(annotated) == 200
    for record in annotated:
        diseases = spans_of(record, "DISEASE")
        treatments = spans_of(record, "TREATMENT")
        assert treatments == treatment_spans(record["text"], diseases, TERMS)
        assert_whole_word_terms_outside_diseases(record["text"], treatments, diseases)


FRAGMENTS = [
    *TERMS.terms,
    *TERMS.not_treatments,
    *(term.upper() for term in TERMS.terms),
    "radio",
    "s",
    "ed",
    "induced",
    "non",
    "oil",
    "acid",
    "the",
    "of",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(FRAGMENTS), st.sampled_from(["", " ", "-", ", ", "  ", "\n", "/"])), max_size=12
    ),
    st.lists(st.tuples(st.integers(0, 200), st.integers(1, 30)), max_size=4),
)
def test_treatment_tagging_takes_whole_words_only_and_never_touches_a_disease_mention(pieces, mentions):
    text = "".join(fragment + separator for fragment, separator in pieces)
    diseases = [(start, min(start + length, len(text))) for start, length in mentions if start < len(text)]
    assert_whole_word_terms_outside_diseases(text, treatment_spans(text, diseases, TERMS), diseases)


@pytest.mark.parametrize(
    ("text", "diseases", "expected"),
    [
        ("Radiotherapy and chemotherapy.", [], ["Radiotherapy", "chemotherapy"]),
        ("Lorenzos oil dietary therapy helped.", [], ["Lorenzos oil dietary therapy"]),
        ("L-dopa-responsive dystonia after L-dopa.", [], ["L-dopa"]),
        ("therapy-related leukemia", [(0, 24)], []),
        ("non-surgery, presurgery and surgery", [], ["surgery"]),
        ("Detergent treatment of cells, then treatment of the patients.", [], ["treatment"]),
    ],
)
def test_treatment_tagging_takes_the_longest_whole_term_and_leaves_disease_mentions_alone(text, diseases, expected):
    assert [text[s:e] for s, e in treatment_spans(text, diseases, TERMS)] == expected
