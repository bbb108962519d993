"""Suggestions in the studio: pre-annotation, accept/reject with provenance, hiding, ordering,
the "Try it" page and the predict API."""

from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation import ordering
from annotation.models import Annotation, Document, Span
from annotation.services import create_project, import_documents
from annotation.text.formats.documents import ImportedDocument
from tests.cast import person
from tests.conftest import wait_for
from tests.training.test_runs import SENTENCES, mentions
from training import preannotation, reports, services
from training.ml.data import Hyperparameters, TrainingDocument
from training.ml.pipeline import train
from training.models import DocumentScore, ModelVersion, Suggestion, TrainingRun

UNANNOTATED = [
    "The patient has asthma and was given aspirin .",
    "Breast cancer was treated with chemotherapy .",
    "The patient was given insulin for diabetes .",
]


@pytest.fixture(scope="module")
def model_dir(tiny_bert, tmp_path_factory):
    """A tiny model trained on the test sentences until it predicts them."""
    from annotation.text.bio import spans_to_tags
    from annotation.text.tokenize import tokenize

    documents = []
    for index in range(48):
        text, wanted = SENTENCES[index % len(SENTENCES)]
        tokens = tokenize(text)
        tags = spans_to_tags(tokens.starts, tokens.ends, mentions(text, wanted))
        documents.append(TrainingDocument(str(index), [text[s:e] for s, e in zip(tokens.starts, tokens.ends)], tags))
    output = tmp_path_factory.mktemp("suggesting") / "model"
    hp = Hyperparameters(epochs=4, learning_rate=1e-2, batch_size=8, max_length=32, precision="fp32")
    train(documents, ["DISEASE", "TREATMENT"], hp, base_model=tiny_bert, output_dir=output)
    return str(output)


@pytest.fixture
def project(admin, model_dir):
    project = create_project("Suggesting", created_by=admin)
    import_documents(project, [ImportedDocument(text=text) for text in UNANNOTATED], importer=admin)
    run = TrainingRun.objects.create(project=project, status="succeeded", metrics={})
    ModelVersion.objects.create(project=project, run=run, artifact_path=model_dir, is_active=True)
    return project


@pytest.fixture
def version(project):
    version = ModelVersion.objects.get(project=project)
    preannotation.preannotate(version.pk)
    version.refresh_from_db()
    return version


@pytest.fixture
def client_in(client, admin):
    client.force_login(admin)
    return client


def first_document(project):
    return Document.objects.filter(project=project).order_by("pk").first()


def page(client, document):
    return client.get(reverse("annotate", args=[document.project_id, document.pk])).content.decode()


def post(client, name, document, *args, **data):
    mine = Annotation.objects.filter(document=document, annotator_id=client.session["_auth_user_id"])
    annotation = mine.first()
    data.setdefault("version", annotation.version if annotation else 1)
    return client.post(reverse(name, args=[document.project_id, document.pk, *args]), data)


def found(document):
    return {
        (document.text[s.start : s.end], s.label.name)
        for s in Suggestion.objects.filter(document=document).select_related("label")
    }


pytestmark = pytest.mark.django_db


def test_preannotation_suggests_on_every_unfinished_document(project, version):
    assert version.preannotation_status == "done"
    assert version.preannotation_done == 3
    document = first_document(project)
    assert {("asthma", "DISEASE"), ("aspirin", "TREATMENT")} <= found(document)
    score = DocumentScore.objects.get(document=document, model_version=version)
    assert 0 < score.min_max_probability <= 1 and score.mean_entropy >= 0
    assert set(score.expected_counts) == {"DISEASE", "TREATMENT"}


def test_suggestions_show_dashed_with_their_confidence(client_in, project, version):
    document = first_document(project)
    html = page(client_in, document)
    assert 'class="suggestion c-' in html
    assert "Suggestion TREATMENT" in html and "aspirin" in html
    assert Suggestion.objects.filter(document=document, shown_at__isnull=False).exists()


def test_accepting_records_the_model_version(client_in, project, version):
    document = first_document(project)
    suggestion = Suggestion.objects.get(document=document, label__name="TREATMENT")
    response = post(client_in, "suggestion_accept", document, suggestion.pk)
    assert response.status_code == 200, unescape(response.content.decode())
    span = Span.objects.get(annotation__document=document)
    assert (span.start, span.end, span.source, span.model_version, span.edited_before_accept) == (
        suggestion.start,
        suggestion.end,
        "suggestion",
        version,
        False,
    )
    assert decision(suggestion) == ("admin", "accepted")


def test_accepting_with_another_label_counts_as_an_edit(client_in, project, version):
    document = first_document(project)
    suggestion = Suggestion.objects.get(document=document, label__name="TREATMENT")
    disease = project.labels.get(name="DISEASE")
    post(client_in, "suggestion_accept", document, suggestion.pk, label=disease.pk)
    span = Span.objects.get(annotation__document=document)
    assert span.label == disease and span.edited_before_accept
    assert decision(suggestion) == ("admin", "edited")


def test_tagging_over_a_suggestion_accepts_it_with_the_new_edges(client_in, project, version):
    document = first_document(project)
    suggestion = Suggestion.objects.get(document=document, label__name="DISEASE")
    post(
        client_in,
        "span_add",
        document,
        first=suggestion.first_token - 1,
        last=suggestion.last_token,
        label=project.labels.get(name="DISEASE").pk,
    )
    span = Span.objects.get(annotation__document=document)
    assert span.source == "suggestion" and span.edited_before_accept
    assert span.start < suggestion.start


def test_a_rejected_suggestion_is_recorded_and_never_shown_again(client_in, project, version):
    document = first_document(project)
    suggestion = Suggestion.objects.get(document=document, label__name="DISEASE")
    response = post(client_in, "suggestion_reject", document, suggestion.pk)
    assert "Suggestion rejected." in response.content.decode()
    assert decision(suggestion) == ("admin", "rejected")
    assert f'data-suggestion="{suggestion.pk}"' not in page(client_in, document)
    preannotation.preannotate(version.pk)  # recomputing keeps the rejection
    assert decision(suggestion) == ("admin", "rejected")
    assert f'data-suggestion="{suggestion.pk}"' not in page(client_in, document)


def test_one_annotators_decision_hides_nothing_from_another(client_in, project, version, django_user_model):
    from django.test import Client

    from annotation.models import Membership

    document = first_document(project)
    suggestion = Suggestion.objects.get(document=document, label__name="DISEASE")
    post(client_in, "suggestion_reject", document, suggestion.pk)
    colleague = person("colleague")
    Membership.objects.create(project=project, user=colleague, role="annotator")
    client = Client()
    client.force_login(colleague)
    assert f'data-suggestion="{suggestion.pk}"' in page(client, document)
    response = post(client, "suggestion_accept", document, suggestion.pk)
    assert response.status_code == 200, unescape(response.content.decode())
    assert sorted(suggestion.decisions.values_list("user__username", "status")) == [
        ("admin", "rejected"),
        ("colleague", "accepted"),
    ]
    assert f'data-suggestion="{suggestion.pk}"' not in page(client_in, document)  # still rejected for admin
    other = Suggestion.objects.filter(document=document).exclude(pk=suggestion.pk).first()
    assert f'data-suggestion="{other.pk}"' in page(client_in, document)


def decision(suggestion) -> tuple[str, str]:
    [made] = suggestion.decisions.values_list("user__username", "status")
    return made


def test_suggestions_overlapping_own_spans_and_below_threshold_are_hidden(client_in, project, version, admin):
    from annotation import editing

    document = first_document(project)
    suggestion = Suggestion.objects.get(document=document, label__name="TREATMENT")
    annotation = editing.annotation_for(document, admin)
    editing.add_span(
        annotation,
        version=1,
        first_token=suggestion.first_token,
        last_token=suggestion.last_token,
        label=project.labels.get(name="DISEASE"),
    )
    html = page(client_in, document)
    assert f'data-suggestion="{suggestion.pk}"' not in html
    assert 'class="suggestion c-' in html  # the DISEASE one is still there
    project.suggestion_threshold = 1.0
    project.save()
    html = page(client_in, document)
    assert 'class="suggestion c-' not in html
    assert f"Model v{version.pk} suggests nothing here above its thresholds" in html


def test_the_suggestion_panel_says_when_no_model_is_active(client_in, project):
    ModelVersion.objects.filter(project=project).update(is_active=False)
    assert "No model is active yet" in page(client_in, first_document(project))


def test_accept_all_and_statistics(client_in, project, version):
    document = first_document(project)
    count = Suggestion.objects.filter(document=document).count()
    post(client_in, "suggestions_accept_all", document)
    assert Span.objects.filter(annotation__document=document, source="suggestion").count() == count
    other = Document.objects.filter(project=project).order_by("pk")[1]
    page(client_in, other)
    post(client_in, "suggestions_reject_all", other)
    stats = {row["label"]: row for row in reports.suggestion_statistics(version)}
    assert stats["TREATMENT"]["accepted"] >= 1 and stats["TREATMENT"]["rejected"] >= 1
    assert 0 < stats["TREATMENT"]["precision"] < 1
    report = client_in.get(reverse("training_run", args=[project.pk, version.run_id])).content.decode()
    assert "Precision as annotators see it" in report


def test_most_uncertain_first_ordering_and_its_reason(project, version, admin):
    project.document_order = project.DocumentOrder.UNCERTAIN
    project.save()
    chosen = ordering.next_document(project, admin, current=None)
    least_sure = DocumentScore.objects.filter(model_version=version).order_by("min_max_probability").first()
    assert chosen.pk == least_sure.document_id
    assert ordering.reason(project, chosen).startswith("Chosen because the model is unsure here")
    project.document_order = project.DocumentOrder.RARE_LABEL
    project.save()
    assert ordering.next_document(project, admin, current=None) is not None
    assert "the rarest label" in ordering.reason(project, chosen)


def test_try_it_and_the_predict_api(client_in, project, version):
    partial = client_in.post(
        reverse("try_it_predict", args=[project.pk]), {"text": "She has asthma ."}
    ).content.decode()
    assert "asthma" in partial and 'class="suggestion c-' in partial
    response = client_in.post(
        reverse("api_predict", args=[project.pk]),
        {"text": "Given aspirin 🙂 for asthma ."},
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == version.pk
    text = "Given aspirin 🙂 for asthma ."
    assert {(s["text"], s["label"]) for s in body["spans"]} >= {("aspirin", "TREATMENT"), ("asthma", "DISEASE")}
    assert all(text[s["start"] : s["end"]] == s["text"] for s in body["spans"])
    found = client_in.post(
        reverse("api_predict", args=[project.pk]), {"text": "She has asthma ."}, content_type="application/json"
    ).json()["spans"]
    highest = max(s["confidence"] for s in found)  # at least one span
    assert highest < 1  # the API answers every span; the pages show those above the threshold
    chosen = client_in.post(
        reverse("personal_threshold", args=[project.pk]), {"threshold": f"{highest + 1e-4}"}
    )  # the API rounds to 4 places
    assert chosen.status_code == 200, (found, chosen.content[:300])
    partial = client_in.post(reverse("try_it_predict", args=[project.pk]), {"text": "She has asthma ."})
    assert "No entities found above the threshold." in partial.content.decode()
    assert "1 more entity below the threshold; lower it to see it." in partial.content.decode()
    blank = client_in.post(reverse("api_predict", args=[project.pk]), {"text": ""}, content_type="application/json")
    assert blank.status_code == 400
    assert blank.json() == {
        "detail": "text: This field may not be blank.",
        "errors": {"text": ["This field may not be blank."]},
    }


def test_the_predict_api_refuses_oversized_text_with_the_limit(client_in, project, version, settings):
    settings.PREDICT_MAX_CHARACTERS = 50
    response = client_in.post(
        reverse("api_predict", args=[project.pk]), {"text": "asthma " * 10}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "The text has 70 characters; the limit is 50."
    assert response.json()["errors"] == {"text": ["The text has 70 characters; the limit is 50."]}


def test_the_uncertainty_order_is_deterministic(project, version, admin):
    project.document_order = project.DocumentOrder.UNCERTAIN
    project.save()
    first = [ordering.next_document(project, admin, current=None).pk for _ in range(3)]
    preannotation.preannotate(version.pk)  # scoring again with the same model changes nothing
    assert first == [ordering.next_document(project, admin, current=None).pk] * 3


def test_predict_without_an_active_model_says_so(client_in, admin):
    empty = create_project("Empty", created_by=admin)
    response = client_in.post(
        reverse("api_predict", args=[empty.pk]), {"text": "asthma"}, content_type="application/json"
    )
    assert response.status_code == 409
    assert "no active model yet" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_activating_a_version_preannotates_in_the_worker(project, huey_consumer):
    version = ModelVersion.objects.get(project=project)
    services.activate(version)

    def done():
        version.refresh_from_db()
        return version.preannotation_status in {"done", "failed"}

    wait_for(done, timeout=90, message="pre-annotation")
    assert version.preannotation_status == "done", version.preannotation_error
    assert Suggestion.objects.filter(model_version=version).exists()


def stored_suggestions(version) -> dict:
    """What a pre-annotation stored: each document's suggestions and its uncertainty score."""
    suggestions = Suggestion.objects.filter(model_version=version).values_list(
        "document_id", "label__name", "start", "end", "confidence"
    )
    scores = DocumentScore.objects.filter(model_version=version).values_list("document_id", "mean_entropy")
    return {
        "suggestions": sorted((d, label, s, e, round(c, 4)) for d, label, s, e, c in suggestions),
        "scores": sorted((d, round(entropy, 4)) for d, entropy in scores),
    }


def visits(count: int) -> list[str]:
    """`count` distinct unannotated texts (an import skips repeated ones)."""
    return [f"{UNANNOTATED[i % 3][:-2]} at visit {i} ." for i in range(count)]


def test_a_chunk_whose_consumer_stopped_is_taken_over_where_it_stopped(project, admin, settings):
    from datetime import timedelta

    from training.models import PreannotationChunk

    settings.PREANNOTATION_CHUNK_DOCUMENTS = 4
    import_documents(project, [ImportedDocument(text=text) for text in visits(7)], importer=admin)
    version = ModelVersion.objects.get(project=project)
    preannotation.preannotate(version.pk)
    chunk = PreannotationChunk.objects.get(model_version=version, number=1)
    assert chunk.size == 4 and chunk.done == 4
    kept, *_, lost = chunk.document_ids
    before = set(Suggestion.objects.filter(document_id=kept, model_version=version).values_list("pk", flat=True))
    # Its consumer died after storing the chunk's first two documents.
    PreannotationChunk.objects.filter(pk=chunk.pk).update(
        done=2, worker="gone:1:1", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    DocumentScore.objects.filter(model_version=version, document_id=lost).delete()
    ModelVersion.objects.filter(pk=version.pk).update(preannotation_status="running")

    preannotation.take_chunks(version.pk)

    chunk.refresh_from_db()
    version.refresh_from_db()
    assert chunk.done == 4 and chunk.worker != "gone:1:1"
    assert (version.preannotation_status, version.preannotation_done) == ("done", 10)
    assert DocumentScore.objects.filter(model_version=version, document_id=lost).exists()
    after = set(Suggestion.objects.filter(document_id=kept, model_version=version).values_list("pk", flat=True))
    assert before and after == before  # stored before it stopped: not predicted again


def test_the_progress_says_how_many_consumers_share_a_preannotation(client_in, project):
    from datetime import timedelta

    from training.models import PreannotationChunk

    version = ModelVersion.objects.get(project=project)
    ModelVersion.objects.filter(pk=version.pk).update(preannotation_status="running", preannotation_total=12)
    now = timezone.now()
    for number, (worker, beaten) in enumerate(
        [("web-1:40:7", now), ("web-1:40:9", now), ("gpu-2:51:7", now), ("gone:9:1", now - timedelta(hours=1))]
    ):
        PreannotationChunk.objects.create(
            model_version=version, number=number, document_ids=[1, 2, 3], size=3, worker=worker, heartbeat_at=beaten
        )
    progress = client_in.get(reverse("preannotation_progress", args=[project.pk, version.pk])).content.decode()
    assert "Pre-annotating: 0 of 12 documents, 2 queue consumers sharing the work." in progress


REDIS_TEST_URL = "redis://127.0.0.1:6379/13"


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(not redis_reachable(), reason=f"no Redis at {REDIS_TEST_URL}")
@pytest.mark.django_db(transaction=True)
def test_consumers_on_redis_share_a_preannotation_and_store_what_one_stores(admin, model_dir, start_consumer):
    import uuid

    from huey import RedisHuey
    from huey.contrib.djhuey import HUEY

    from training.models import PreannotationChunk
    from training.tasks import preannotate_task

    project = create_project("Shared", created_by=admin)
    import_documents(project, [ImportedDocument(text=text) for text in visits(80)], importer=admin)
    run = TrainingRun.objects.create(project=project, status="succeeded", metrics={})
    version = ModelVersion.objects.create(project=project, run=run, artifact_path=model_dir, is_active=True)
    queue = f"studio-test-{uuid.uuid4().hex[:8]}"
    env = {"REDIS_URL": REDIS_TEST_URL, "HUEY_QUEUE": queue, "PREANNOTATION_CHUNK_DOCUMENTS": "2"}
    redis_queue = RedisHuey(queue, url=REDIS_TEST_URL)

    def preannotate_with(consumers) -> dict:
        ModelVersion.objects.filter(pk=version.pk).update(preannotation_status="queued")
        task = preannotate_task.s(version.pk)  # registered with this process's queue, sent to theirs
        redis_queue.storage.enqueue(HUEY.serialize_task(task), task.priority)

        def finished():
            version.refresh_from_db()
            return version.preannotation_status in {"done", "failed"}

        wait_for(finished, timeout=120, message="pre-annotation")
        assert version.preannotation_status == "done", version.preannotation_error
        assert version.preannotation_done == version.preannotation_total == 80
        workers = PreannotationChunk.objects.filter(model_version=version).values_list("worker", flat=True)
        took = {int(worker.split(":")[1]) for worker in workers}
        assert took <= {consumer.pid for consumer in consumers}
        return {"took": took, **stored_suggestions(version)}

    try:
        first = start_consumer(**env)
        alone = preannotate_with([first])
        second = start_consumer(**env)
        wait_for(lambda: "consumer started" in second.log_path.read_text(), timeout=60, message="the second consumer")
        shared = preannotate_with([first, second])
    finally:
        redis_queue.flush()
    assert alone["took"] == {first.pid}
    assert shared["took"] == {first.pid, second.pid}, "both consumers take chunks"
    assert shared["suggestions"] == alone["suggestions"] and shared["scores"] == alone["scores"]
    assert alone["suggestions"], "the model suggests something"
