import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.imports import import_path
from annotation.models import Document, ImportJob, Label, Membership, Project
from annotation.services import create_project
from tests.cast import person
from tests.conftest import wait_for

DATA = Path(__file__).resolve().parent.parent / "data"
pytestmark = pytest.mark.django_db


@pytest.fixture
def project(admin):
    return create_project("Cardiology", created_by=admin)


@pytest.fixture
def logged_in(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def ncbi_project(project, admin):
    import_path(project, DATA / "ncbi_devel_sample.pubtator", user=admin)
    return project


def test_creating_a_project_gives_it_the_default_labels(logged_in):
    response = logged_in.post(reverse("project_create"), {"name": "Renal", "description": "", "guidelines": ""})
    project = Project.objects.get(name="Renal")
    assert response["Location"] == reverse("project_documents", args=[project.pk])
    assert [(l.name, l.hotkey) for l in project.labels.all()] == [("DISEASE", "1"), ("TREATMENT", "2")]


def test_a_duplicate_project_name_is_refused_with_a_message(logged_in, project):
    response = logged_in.post(reverse("project_create"), {"name": "Cardiology"})
    assert response.status_code == 400
    assert "A project of this name exists already." in response.content.decode()


def test_empty_project_invites_an_import(logged_in, project):
    page = logged_in.get(reverse("project_documents", args=[project.pk])).content.decode()
    assert "No documents yet" in page
    assert reverse("import_upload", args=[project.pk]) in page


def test_document_list_counts_searches_and_filters(logged_in, ncbi_project, admin):
    url = reverse("project_documents", args=[ncbi_project.pk])
    page = logged_in.get(url).content.decode()
    assert "Page 1 of 1 · 40 documents" in page
    summary = logged_in.get(reverse("status_summary", args=[ncbi_project.pk])).content.decode()
    assert '<span class="stat-value">40</span><span class="stat-label">Submitted</span>' in summary
    assert '<span class="stat-value">0</span><span class="stat-label">Not started</span>' in summary

    found = logged_in.get(url, {"q": "adrenoleukodystrophy"}, HTTP_HX_REQUEST="true")
    html = found.content.decode()
    assert "<table" in html and "<html" not in html
    expected = Document.objects.filter(text__icontains="adrenoleukodystrophy").count()
    assert expected > 0
    assert f"· {expected} document" in html

    prefix = logged_in.get(url, {"q": "adrenoleukodystroph"}, HTTP_HX_REQUEST="true").content.decode()
    assert f"· {expected} document" in prefix  # a word's beginning finds it, as in any search box
    phrase = logged_in.get(url, {"q": '"adrenoleukodystrophy" -zzzz'}, HTTP_HX_REQUEST="true").content.decode()
    assert f"· {expected} document" in phrase

    nothing = logged_in.get(url, {"status": "not_started"}).content.decode()
    assert "No documents match these filters" in nothing
    mine = logged_in.get(url, {"annotator": admin.pk}).content.decode()
    assert "· 40 documents" in mine


def test_annotators_see_their_own_status_in_the_list(client, ncbi_project, django_user_model):
    from annotation import editing

    nurse = person("nurse")
    Membership.objects.create(project=ncbi_project, user=nurse, role="annotator")
    document = Document.objects.filter(project=ncbi_project).order_by("pk").first()
    annotation = editing.annotation_for(document, nurse)
    editing.submit(annotation, version=annotation.version)
    client.force_login(nurse)
    summary = client.get(reverse("status_summary", args=[ncbi_project.pk])).content.decode()
    assert '<span class="stat-value">1</span><span class="stat-label">Submitted</span>' in summary
    assert '<span class="stat-value">39</span><span class="stat-label">Not started</span>' in summary
    url = reverse("project_documents", args=[ncbi_project.pk])
    page = client.get(url).content.decode()
    assert "Your status" in page and page.count(">Submitted</span>") == 1
    assert "· 39 documents" in client.get(url, {"status": "not_started"}).content.decode()
    assert 'name="annotator"' not in page


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("suggestion_threshold", "1.5", "Use a number from 0 to 1, e.g. 0.5."),
        ("target_precision", "80", "Use a number from 0 to 1, e.g. 0.8 for 8 suggestions right in 10 shown."),
        ("annotators_per_document", "40000", "Give each document to at most 100 annotators."),
    ],
)
def test_settings_errors_are_told_next_to_their_field(logged_in, project, field, value, message):
    data = {
        "name": project.name,
        "suggestion_threshold": "0.5",
        "target_precision": "0.8",
        "document_order": "sequential",
        "training_source": "gold_first",
        "annotators_per_document": "0",
        field: value,
    }
    response = logged_in.post(reverse("project_settings", args=[project.pk]), data)
    assert response.status_code == 200
    assert response.context["form"].errors == {field: [message]}


def test_adding_a_member_without_a_username_says_so(logged_in, project):
    response = logged_in.post(
        reverse("member_save", args=[project.pk]), {"username": " ", "role": "annotator"}, follow=True
    )
    assert "Enter the username of the person to add." in response.content.decode()


def test_labels_are_added_edited_and_checked(logged_in, project):
    url = reverse("label_create", args=[project.pk])
    logged_in.post(url, {"name": "symptom", "color": "#123456", "hotkey": "3"})
    assert Label.objects.filter(project=project, name="SYMPTOM", hotkey="3").exists()

    for colour in ("red", "not-a-colour"):  # too short, too long: one message
        response = logged_in.post(url, {"name": "OTHER", "color": colour, "hotkey": "3"}, follow=True)
        assert "Colour: Use a colour like #e4572e." in response.content.decode()
    assert not Label.objects.filter(name="OTHER").exists()

    response = logged_in.post(url, {"name": "OTHER", "color": "#000000", "hotkey": "1"}, follow=True)
    assert "Another label of the project uses this hotkey." in response.content.decode()


def test_a_label_in_use_cannot_be_deleted(logged_in, ncbi_project):
    label = Label.objects.get(project=ncbi_project, name="DISEASE")
    response = logged_in.post(reverse("label_delete", args=[ncbi_project.pk, label.pk]), follow=True)
    assert "DISEASE is used by spans" in response.content.decode()
    assert Label.objects.filter(pk=label.pk).exists()


def test_upload_map_and_import_through_the_pages(logged_in, project):
    upload = SimpleUploadedFile("ncbi.pubtator", (DATA / "ncbi_devel_sample.pubtator").read_bytes())
    response = logged_in.post(reverse("import_upload", args=[project.pk]), {"file": upload, "format": ""})
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("import_job", args=[project.pk, job.pk])

    page = logged_in.get(response["Location"]).content.decode()
    assert "SpecificDisease (" in page and "Map labels" in page
    mapping = {f"map:{source}": "DISEASE" for source in job.source_labels}
    mapping["map:Modifier"] = "__drop__"
    logged_in.post(response["Location"], mapping)
    job.refresh_from_db()
    assert job.status == "succeeded"
    finished = logged_in.get(response["Location"]).content.decode()
    assert "Imported 40 documents" in finished
    assert f"{job.source_labels['Modifier']} mentions dropped by the label mapping" in finished


def test_the_upload_page_cuts_a_conll_file_into_documents(logged_in, project):
    upload = SimpleUploadedFile("bc5cdr.conll", (DATA / "bc5cdr_devel_sample.conll").read_bytes())
    logged_in.post(reverse("import_upload", args=[project.pk]), {"file": upload, "sentences_per_document": "25"})
    job = ImportJob.objects.get()
    assert job.options["sentences_per_document"] == 25 and job.document_count == 12
    logged_in.post(
        reverse("import_job", args=[project.pk, job.pk]), {f"map:{s}": "__create__" for s in job.source_labels}
    )
    job.refresh_from_db()
    assert job.status == "succeeded" and Document.objects.filter(project=project).count() == 12


def test_a_bad_upload_shows_the_line_and_imports_nothing(logged_in, project):
    upload = SimpleUploadedFile("notes.jsonl", b'{"text": "fine"}\n{"text": \n')
    response = logged_in.post(reverse("import_upload", args=[project.pk]), {"file": upload})
    assert response.status_code == 400
    assert "notes.jsonl, line 2: malformed JSON" in response.content.decode()
    assert not Document.objects.exists() and not ImportJob.objects.exists()


def test_an_oversized_upload_is_refused_from_its_declared_length(logged_in, project, settings):
    settings.IMPORT_MAX_BYTES = 1_000_000
    upload = SimpleUploadedFile("big.txt", b"word " * 300_000)
    response = logged_in.post(reverse("import_upload", args=[project.pk]), {"file": upload})
    assert response.status_code == 413
    assert "over the 1 MB limit" in response.content.decode()


def test_export_streams_the_chosen_format(logged_in, ncbi_project):
    url = reverse("export_download", args=[ncbi_project.pk])
    response = logged_in.get(url, {"format": "hf-dataset", "scope": "finished"})
    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="cardiology-finished-hf.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    lines = archive.read("data.jsonl").decode().splitlines()
    assert len(lines) == 40
    assert '"ner_tags"' in lines[0]
    assert json.loads(archive.read("labels.json"))[:3] == ["O", "B-DISEASE", "I-DISEASE"]

    bad = logged_in.get(url, {"format": "xlsx"})
    assert bad.status_code == 400
    assert "Choose an export format" in bad.content.decode()


def test_large_files_import_in_the_background(logged_in, project, huey_consumer, settings):
    settings.IMPORT_INLINE_MAX_BYTES = 0
    upload = SimpleUploadedFile("ncbi.pubtator", (DATA / "ncbi_devel_sample.pubtator").read_bytes())
    response = logged_in.post(reverse("import_upload", args=[project.pk]), {"file": upload})
    job = ImportJob.objects.get()
    logged_in.post(response["Location"], {f"map:{s}": "DISEASE" for s in job.source_labels})
    progress_url = reverse("import_progress", args=[project.pk, job.pk])
    first = logged_in.get(progress_url).content.decode()
    assert "<progress" in first or "Imported 40 documents" in first

    def finished():
        job.refresh_from_db()
        return job.is_finished

    wait_for(finished, timeout=60, message="the background import")
    assert job.status == "succeeded", job.error
    assert Document.objects.filter(project=project).count() == 40
    done = logged_in.get(progress_url)
    assert done["HX-Refresh"] == "true"


def test_members_are_added_changed_and_removed_but_an_admin_stays(logged_in, project, admin, django_user_model):
    from annotation.models import Membership

    nurse = person("nurse")
    url = reverse("member_save", args=[project.pk])
    logged_in.post(url, {"username": "nurse", "role": "annotator"})
    assert Membership.objects.get(project=project, user=nurse).role == "annotator"
    logged_in.post(url, {"username": "nurse", "role": "reviewer"})
    assert Membership.objects.get(project=project, user=nurse).role == "reviewer"
    unknown = logged_in.post(url, {"username": "ghost", "role": "annotator"}, follow=True)
    assert "There is no active user named &#x27;ghost&#x27;." in unknown.content.decode()

    last_admin = Membership.objects.get(project=project, user=admin)
    refused = logged_in.post(reverse("member_remove", args=[project.pk, last_admin.pk]), follow=True)
    assert "admin is the project&#x27;s last admin" in refused.content.decode()
    assert Membership.objects.filter(pk=last_admin.pk).exists()
    demoted = logged_in.post(url, {"username": "admin", "role": "annotator"}, follow=True)
    assert "last admin" in demoted.content.decode()

    membership = Membership.objects.get(project=project, user=nurse)
    logged_in.post(reverse("member_remove", args=[project.pk, membership.pk]))
    assert not Membership.objects.filter(user=nurse).exists()


def test_the_document_list_filters_documents_with_suggestions(logged_in, project, admin):
    from tests.conftest import make_document
    from training.models import ModelVersion, Suggestion, TrainingRun

    plain, suggested = make_document(project, "Nothing here."), make_document(project, "Asthma again.")
    run = TrainingRun.objects.create(project=project, status="succeeded")
    version = ModelVersion.objects.create(project=project, run=run, artifact_path="/x", is_active=True)
    Suggestion.objects.create(
        document=suggested,
        model_version=version,
        label=project.labels.get(name="DISEASE"),
        start=0,
        end=6,
        first_token=0,
        last_token=0,
        confidence=0.8,
    )
    page = logged_in.get(reverse("project_documents", args=[project.pk]), {"suggestions": "on"}).content.decode()
    assert "· 1 document" in page
    assert reverse("annotate", args=[project.pk, suggested.pk]) in page
    assert reverse("annotate", args=[project.pk, plain.pk]) not in page


def test_agreement_page_scores_pairs_and_lists_disagreements(logged_in, project, admin, django_user_model):
    from annotation import editing
    from tests.conftest import make_document

    first, second = make_document(project, "Asthma and diabetes."), make_document(project, "Gout only.")
    disease = project.labels.get(name="DISEASE")
    for name, tagged in (("ann", [(first, 0), (second, 0)]), ("bob", [(first, 2), (second, 0)])):
        user = person(name)
        for document, token in tagged:
            annotation = editing.annotation_for(document, user)
            annotation = editing.add_span(
                annotation, version=1, first_token=token, last_token=token, label=disease
            ).annotation
            editing.submit(annotation, version=annotation.version)
    page = logged_in.get(reverse("agreement", args=[project.pk])).content.decode()
    assert "ann · bob" in page
    assert "<strong>0.500</strong>" in page  # 1 of 2 spans match on each side
    assert reverse("review", args=[project.pk, first.pk]) in page
    assert reverse("review", args=[project.pk, second.pk]) not in page  # they agree there


def test_untitled_documents_are_listed_by_their_first_words(client, admin):
    from annotation.selectors import document_names
    from tests.conftest import make_document

    project = create_project("Notes", created_by=admin)
    note = make_document(project, "Discharge summary: patient admitted with chest pain and dyspnoea after surgery.")
    titled = make_document(project, "Another note.", title="Ward round 3")
    client.force_login(admin)
    listed = client.get(reverse("project_documents", args=[project.pk])).content.decode()
    assert "Discharge summary: patient admitted with chest pain and…" in listed
    assert "Ward round 3" in listed and "(untitled)" not in listed
    assert document_names([note.pk, titled.pk]) == {
        note.pk: "Discharge summary: patient admitted with chest pain and…",
        titled.pk: "Ward round 3",
    }
    assert str(Document.objects.get(pk=note.pk)) == "Discharge summary: patient admitted with chest pain and…"
