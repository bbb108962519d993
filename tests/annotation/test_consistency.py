"""Stored BIO tags never disagree with the spans: label renames and deletions on every path,
concurrent edits during a rename, the migration's repair, and `manage.py check_annotations`."""

import importlib
import json
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.urls import reverse

from annotation import editing
from annotation.consistency import stale_annotations
from annotation.models import Annotation, Label
from annotation.services import create_project, import_documents, save_label
from annotation.text.formats.documents import ImportedDocument
from studio.models import AuditEntry
from tests.conftest import make_document
from training.services import check_training_data

TEXTS = [
    (
        "Aspirin relieved the migraine of a patient with asthma .",
        [(0, 7, "TREATMENT"), (21, 29, "DISEASE"), (48, 54, "DISEASE")],
    ),
    ("Chemotherapy shrank the breast cancer .", [(0, 12, "TREATMENT"), (24, 37, "DISEASE")]),
    ("Insulin controls diabetes .", [(0, 7, "TREATMENT"), (17, 25, "DISEASE")]),
]


def annotated(project, user):
    documents = [ImportedDocument(text=text, mentions=mentions) for text, mentions in TEXTS]
    import_documents(project, documents, importer=user)
    return Annotation.objects.filter(document__project=project)


def tags_of(project) -> list[str]:
    return sorted({tag for a in Annotation.objects.filter(document__project=project) for tag in a.bio_tags})


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["page", "api"])
def test_renaming_a_label_rewrites_every_annotations_tags(client, project, user, settings, path):
    other = create_project("Untouched", created_by=user)
    annotated(project, user)
    annotated(other, user)
    label = project.labels.get(name="TREATMENT")
    client.force_login(user)
    if path == "page":
        client.post(
            reverse("label_update", args=[project.pk, label.pk]),
            {"name": "therapy", "color": label.color, "hotkey": "2"},
        )
    else:
        response = client.put(
            reverse("api_label", args=[project.pk, label.pk]),
            json.dumps({"name": "THERAPY", "color": label.color, "hotkey": "2"}),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
    assert Label.objects.get(pk=label.pk).name == "THERAPY"
    assert tags_of(project) == ["B-DISEASE", "B-THERAPY", "I-DISEASE", "O"]
    assert tags_of(other) == ["B-DISEASE", "B-TREATMENT", "I-DISEASE", "O"]  # another project's label of that name
    assert stale_annotations() == []
    settings.TRAINING_MIN_DOCUMENTS = 1
    check_training_data(project)  # THERAPY has its examples
    entry = AuditEntry.objects.get(action="label.update")
    assert (entry.before["name"], entry.after["name"]) == ("TREATMENT", "THERAPY")


@pytest.mark.django_db
def test_a_label_deleted_by_any_path_takes_its_tags_with_its_spans(project, user):
    annotated(project, user)
    project.labels.get(name="TREATMENT").delete()  # bypasses the service's in-use refusal
    assert tags_of(project) == ["B-DISEASE", "I-DISEASE", "O"]
    assert stale_annotations() == []


def write_tags_with_an_edit(project, user, label):
    document = make_document(project, "Aspirin helps .")
    annotation = editing.annotation_for(document, user)
    return lambda: editing.add_span(annotation, version=annotation.version, first_token=0, last_token=0, label=label)


def write_tags_with_an_import(project, user, label):
    document = ImportedDocument(text="Aspirin helps .", mentions=[(0, 7, label.name)])
    return lambda: import_documents(project, [document], importer=user)


def rename_with_the_service(label):
    renamed = Label.objects.get(pk=label.pk)
    renamed.name = "THERAPY"
    save_label(renamed)


def rename_with_sql(label):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE annotation_label SET name = 'THERAPY' WHERE id = %s", [label.pk])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("write", "rename"),
    [
        (write_tags_with_an_edit, rename_with_the_service),
        (write_tags_with_an_import, rename_with_the_service),
        # A bare UPDATE locks the label before the trigger locks the project, so against an
        # import it can only deadlock (and change nothing); against an edit it waits.
        (write_tags_with_an_edit, rename_with_sql),
    ],
)
def test_a_rename_waits_for_a_writer_that_holds_tags_with_the_old_name(project, user, write, rename):
    """The writer has computed its tags with the old name but not committed yet when the
    rename starts: the rename must wait for it, then rewrite its tags too."""
    label = project.labels.get(name="TREATMENT")
    write_tags = write(project, user, label)
    written, renamed = threading.Event(), threading.Event()

    def writer():
        try:
            with transaction.atomic():
                write_tags()
                written.set()
                renamed.wait(timeout=1)  # a rename that does not wait would finish meanwhile
        finally:
            connection.close()

    def renamer():
        try:
            written.wait(timeout=10)
            rename(label)
            renamed.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=writer), threading.Thread(target=renamer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Annotation.objects.get(document__text="Aspirin helps .").bio_tags == ["B-THERAPY", "O", "O"]
    assert stale_annotations() == []


@pytest.mark.django_db
def test_the_migration_repairs_tags_left_stale_by_earlier_renames(project, user):
    annotations = annotated(project, user)
    before = {a.pk: a.bio_tags for a in annotations}
    stale = [[tag.replace("TREATMENT", "THERAPY_OLD") for tag in tags] for tags in before.values()]
    for pk, tags in zip(before, stale):
        Annotation.objects.filter(pk=pk).update(bio_tags=tags)
    assert len(stale_annotations()) == 3
    migration = importlib.import_module("annotation.migrations.0012_label_changes_rewrite_tags")
    with connection.cursor() as cursor:
        cursor.execute(migration.REPAIR)
    assert {a.pk: a.bio_tags for a in Annotation.objects.filter(pk__in=before)} == before


@pytest.mark.django_db
def test_check_annotations_reports_and_repairs_mismatches(project, user, capsys):
    annotations = list(annotated(project, user))
    call_command("check_annotations")
    assert "All 3 annotations' BIO tags match their spans." in capsys.readouterr().out
    broken = annotations[1]
    Annotation.objects.filter(pk=broken.pk).update(bio_tags=["O"] * len(broken.bio_tags))
    with pytest.raises(CommandError, match="1 of 3 annotations have BIO tags that disagree"):
        call_command("check_annotations", "--project", project.name)
    report = capsys.readouterr().out
    assert f"annotation {broken.pk} (document {broken.document_id}" in report
    assert "3 tags differ from the spans, first at token 0: stored O, spans say B-TREATMENT" in report
    call_command("check_annotations", "--repair")
    assert "Repaired 1 of 3 annotations." in capsys.readouterr().out
    assert Annotation.objects.get(pk=broken.pk).bio_tags == broken.bio_tags
    assert stale_annotations() == []
