"""A finished run's report: dev errors paired into rows and filtered, and a small dev split said
so, with bootstrap intervals. The metrics come from a real evaluation of stored documents."""

import re

import pytest
from django.urls import reverse

from annotation.models import Membership
from annotation.services import create_project
from annotation.text.bio import spans_to_tags
from tests.cast import person, team
from tests.conftest import make_document
from training.ml.evaluation import evaluate
from training.models import TrainingRun

pytestmark = pytest.mark.django_db

LONG_LEFT = "In a retrospective cohort of consecutive outpatients followed for seven years at two centres, "
# (text, gold mentions, predicted mentions): each a list of (phrase, label), in text order.
DEV = [
    (
        "Patients with metastatic breast cancer received tamoxifen after surgery.",
        [("metastatic breast cancer", "DISEASE"), ("tamoxifen", "TREATMENT"), ("surgery", "TREATMENT")],
        [("breast cancer", "DISEASE"), ("tamoxifen", "TREATMENT"), ("surgery", "DISEASE")],
    ),
    (
        "Severe asthma was controlled with inhaled corticosteroids and montelukast.",
        [("asthma", "DISEASE"), ("inhaled corticosteroids", "TREATMENT"), ("montelukast", "TREATMENT")],
        [("Severe asthma", "DISEASE"), ("corticosteroids", "DISEASE"), ("montelukast", "TREATMENT")],
    ),
    (
        "Type 2 diabetes improved on metformin.",
        [("Type 2 diabetes", "DISEASE"), ("metformin", "TREATMENT")],
        [("Type 2 diabetes", "DISEASE"), ("metformin", "TREATMENT")],
    ),
    (
        LONG_LEFT
        + "chronic kidney disease progressed despite haemodialysis and strict dietary restrictions over time, "
        "as the cohort reported by telephone.",
        [("chronic kidney disease", "DISEASE"), ("haemodialysis", "TREATMENT")],
        [("chronic kidney disease", "DISEASE")],
    ),
    ("The rash resolved without treatment.", [("rash", "DISEASE")], [("rash", "DISEASE"), ("treatment", "TREATMENT")]),
    ("Migraine responded to sumatriptan.", [("Migraine", "DISEASE")], [("Migraine", "DISEASE")]),
]


def mentions(text, wanted):
    found, position = [], 0
    for phrase, label in wanted:
        start = text.index(phrase, position)
        found.append((start, start + len(phrase), label))
        position = start + len(phrase)
    return found


def evaluated_run(project, dev=DEV, **fields) -> TrainingRun:
    """A succeeded run whose metrics are an evaluation of `dev`'s documents, stored in `project`."""
    gold, predicted, ids, texts, offsets = [], [], [], [], []
    for index, (text, gold_mentions, predicted_mentions) in enumerate(dev):
        document = make_document(project, text, f"Case {index + 1}")
        starts, ends = document.token_starts, document.token_ends
        gold.append(spans_to_tags(starts, ends, mentions(text, gold_mentions)))
        predicted.append(spans_to_tags(starts, ends, mentions(text, predicted_mentions)))
        ids.append(str(document.pk))
        texts.append(text)
        offsets.append(list(zip(starts, ends)))
    tokens = [[text[a:b] for a, b in doc_offsets] for text, doc_offsets in zip(texts, offsets)]
    evaluation = evaluate(
        gold,
        predicted,
        labels=["DISEASE", "TREATMENT"],
        doc_ids=ids,
        tokens=tokens,
        texts=texts,
        token_offsets=offsets,
        intervals=True,
    )
    metrics = {"evaluation": evaluation, "dev_f1_per_epoch": [0.4, evaluation["micro"]["f1"]], "best_epoch": 2}
    metrics |= {"epochs_run": 2, "train_examples_per_second": 12.5, "runtime": {"device": "cpu"}}
    return TrainingRun.objects.create(project=project, status="succeeded", metrics=metrics, **fields)


@pytest.fixture
def world():
    owner = person("owner")
    project = create_project("Report", created_by=owner)
    run = evaluated_run(project)
    return project, run, team(project)


def page(client, user, run, **query):
    client.force_login(user)
    return client.get(reverse("training_run", args=[run.project_id, run.pk]), query)


def error_rows(html: str) -> list[str]:
    """Each error row's text, tags stripped and spaces squeezed."""
    body = html.split('<table class="table errors">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def test_a_boundary_error_is_one_row_with_gold_and_predicted_apart(client, world):
    project, run, people = world
    response = page(client, people["reviewer"], run)
    html = response.content.decode()
    assert response.status_code == 200
    rows = error_rows(html)
    # Case 1: a boundary, a label error; case 2: a boundary, a boundary+label; 4: missed; 5: spurious.
    assert [row.split()[0] for row in rows] == ["boundary", "label", "boundary", "boundary+label", "missed", "spurious"]
    assert rows[0].startswith("boundary DISEASE metastatic breast cancer DISEASE breast cancer Patients with")
    assert '<td data-name="Gold"><span class="entity"><span class="label-chip c-' in html
    # The snippet marks the part only gold covers apart from the part both cover.
    assert '<mark class="gold">metastatic </mark><mark class="gold predicted">breast cancer</mark>' in html
    assert '<mark class="gold">inhaled </mark><mark class="gold predicted">corticosteroids</mark>' in html
    assert "6 errors</p>" in html


def test_snippets_keep_whole_words(client, world):
    project, run, people = world
    html = page(client, people["reviewer"], run).content.decode()
    [missed] = [row for row in error_rows(html) if row.startswith("missed")]
    # 60 characters either side of "haemodialysis" would cut "years" and "reported": both are left out.
    snippet = "…at two centres, chronic kidney disease progressed despite haemodialysis and strict dietary "
    assert snippet + "restrictions over time, as the cohort… Case 4" in missed


@pytest.mark.parametrize(
    ("query", "kinds"),
    [
        ({"kind": "boundary"}, ["boundary", "boundary"]),
        ({"label": "TREATMENT"}, ["label", "boundary+label", "missed", "spurious"]),
        ({"label": "TREATMENT", "kind": "boundary+label"}, ["boundary+label"]),
        ({"label": "DISEASE", "kind": "missed"}, []),
    ],
)
def test_filters_by_label_and_kind_as_a_link_and_as_a_partial(client, world, query, kinds):
    project, run, people = world
    full = page(client, people["admin"], run, **query).content.decode()
    partial = client.get(reverse("training_run", args=[project.pk, run.pk]), query, HTTP_HX_REQUEST="true")
    fragment = partial.content.decode()
    assert fragment.startswith('<div id="error-list">') and "<html" not in fragment
    for html in (full, fragment):
        listed = [row.split()[0] for row in error_rows(html)] if kinds else []
        assert listed == kinds
        assert f"{len(kinds)} of 6 errors match" in html
    if not kinds:
        assert "No error matches these filters" in fragment
    selected = re.search(r'<select name="kind".*?</select>', full, re.S).group(0)
    assert f'value="{query.get("kind", "")}" selected' in selected  # the form shows the filter in use


def test_an_unknown_filter_is_refused_with_what_to_choose(client, world):
    project, run, people = world
    response = page(client, people["reviewer"], run, kind="typo", label="TREATMENT")
    html = response.content.decode()
    assert response.status_code == 400
    assert "“typo” is no error kind: choose boundary, label, boundary+label, missed, spurious." in html
    assert [row.split()[0] for row in error_rows(html)] == ["label", "boundary+label", "missed", "spurious"]
    response = page(client, people["reviewer"], run, label="GENE")
    assert response.status_code == 400 and "This run has no label “GENE”." in response.content.decode()


def test_a_small_dev_split_is_said_and_each_f1_has_its_interval(client, world):
    project, run, people = world
    html = page(client, people["annotator"], run).content.decode()
    evaluation = run.metrics["evaluation"]
    support = evaluation["per_label"]
    assert (
        f"A small dev split: only 6 dev documents; DISEASE has {support['DISEASE']['support']} dev entities; "
        f"TREATMENT has {support['TREATMENT']['support']} dev entities." in html
    )
    intervals = evaluation["f1_intervals"]
    for name, (low, high) in [*intervals["per_label"].items(), ("micro avg", intervals["micro"])]:
        row = re.search(rf'<th scope="row">{re.escape(name)}</th>.*?</tr>', html, re.S).group(0)
        assert f"({low:.2f}–{high:.2f})" in row, name
        assert low <= float(re.search(r"<strong>([\d.]+)</strong>", row).group(1)) <= high
    macro = re.search(r'<th scope="row">macro avg</th>.*?</tr>', html, re.S).group(0)
    assert 'class="interval"' not in macro  # intervals are for each label and micro


def test_a_large_dev_split_has_no_warning(client):
    owner = person("owner")
    project = create_project("Large", created_by=owner)
    right = [("Asthma", "DISEASE"), ("aspirin", "TREATMENT")]
    dev = [(f"Asthma was treated with aspirin ( {i} ) .", right, right) for i in range(50)]
    dev[-1] = (dev[-1][0], right, right[:1])
    run = evaluated_run(project, dev)
    assert "f1_intervals" not in run.metrics["evaluation"]
    html = page(client, owner, run).content.decode()
    assert "A small dev split" not in html and 'class="interval"' not in html
    assert [row.split()[0] for row in error_rows(html)] == ["missed"]


LEGACY_ERROR = {
    "doc_id": None,
    "label": "DISEASE",
    "kind": "boundary",
    "token_start": 2,
    "token_end": 4,
    "text": "breast cancer",
    "context_left": "Patients with ",
    "context_right": " were treated.",
    "context": "Patients with breast cancer were treated.",
}


def test_a_run_stored_with_the_legacy_error_lists_still_renders_and_filters(client):
    owner = person("owner")
    project = create_project("Legacy", created_by=owner)
    document = make_document(project, "Patients with breast cancer were treated.")
    error = {**LEGACY_ERROR, "doc_id": str(document.pk)}
    evaluation = {key: value for key, value in evaluated_run(project, DEV[2:3]).metrics["evaluation"].items()}
    for key in ("errors", "false_positives_count", "false_negatives_count", "f1_intervals"):
        evaluation.pop(key, None)
    evaluation |= {"false_negatives": [error], "false_positives": [{**error, "text": "cancer", "kind": "boundary"}]}
    run = TrainingRun.objects.create(project=project, status="succeeded", metrics={"evaluation": evaluation})
    html = page(client, owner, run).content.decode()
    assert error_rows(html) == [
        "boundary DISEASE breast cancer — Patients with breast cancer were treated. Patients with breast cancer were treated.",
        "boundary — DISEASE cancer Patients with cancer were treated. Patients with breast cancer were treated.",
    ]
    assert "A small dev split: only 1 dev document;" in html  # said, though no intervals were stored
    assert len(error_rows(page(client, owner, run, label="DISEASE", kind="boundary").content.decode())) == 2
    assert "No error matches" in page(client, owner, run, label="TREATMENT").content.decode()


def test_annotators_get_error_counts_not_the_errors(client, world):
    project, run, people = world
    quoted = "metastatic breast cancer"
    urls = [
        reverse("training_run", args=[project.pk, run.pk]),
        reverse("api_run", args=[project.pk, run.pk]),
        reverse("api_run_metrics", args=[project.pk, run.pk]),
    ]
    client.force_login(people["annotator"])
    for url in urls:
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            body = client.get(url, {"kind": "boundary"}, **headers).content.decode()
            assert quoted not in body and '"errors":' not in body, url
            if url == urls[0]:
                assert "so reviewers and project admins see it" in body and "No errors" not in body
    evaluation = client.get(urls[1]).json()["metrics"]["evaluation"]
    assert (evaluation["false_negatives_count"], evaluation["false_positives_count"]) == (5, 5)
    assert evaluation["f1_intervals"]["micro"] == run.metrics["evaluation"]["f1_intervals"]["micro"]
    for role in (Membership.Role.REVIEWER, Membership.Role.ADMIN):
        client.force_login(people[role])
        assert all(quoted in client.get(url).content.decode() for url in urls)
