"""The migration that moves gold apart from people's own versions keeps every review."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("annotation", "0017_change_decisions")]
AFTER = [("annotation", "0018_gold_apart_from_versions")]


@pytest.mark.django_db(transaction=True)
def test_a_reviewed_annotation_becomes_the_gold_and_a_second_one_a_version_again():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("auth", "User")
    Project, Document, Annotation = (
        old.get_model("annotation", name) for name in ("Project", "Document", "Annotation")
    )
    try:
        project = Project.objects.create(name="Old")
        twice = Document.objects.create(project=project, text="Asthma .", content_hash="a")
        once = Document.objects.create(project=project, text="Gout .", content_hash="b")
        rita, sam, ann = (User.objects.create(username=name) for name in ("rita", "sam", "ann"))
        earlier = Annotation.objects.create(document=twice, annotator=rita, status="reviewed")
        later = Annotation.objects.create(document=twice, annotator=sam, status="reviewed")
        version = Annotation.objects.create(document=twice, annotator=ann, status="submitted")
        only = Annotation.objects.create(document=once, annotator=rita, status="reviewed")

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps.get_model("annotation", "Annotation")
        rows = dict(new.objects.values_list("pk", "status"))
        gold = set(new.objects.filter(is_gold=True).values_list("pk", flat=True))
        assert gold == {later.pk, only.pk}
        assert rows == {earlier.pk: "submitted", later.pk: "reviewed", version.pk: "submitted", only.pk: "reviewed"}
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
