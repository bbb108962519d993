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


@pytest.mark.django_db(transaction=True)
def test_history_kept_as_whole_span_lists_becomes_the_rows_each_step_changed_and_still_undoes():
    from annotation import editing
    from annotation.models import Annotation

    before, after = [("annotation", "0020_project_target_precision")], [("annotation", "0021_change_deltas")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Project, Label, Document, Annotation_, Span, Change = (
        old.get_model("annotation", name)
        for name in ("Project", "Label", "Document", "Annotation", "Span", "AnnotationChange")
    )
    try:
        project = Project.objects.create(name="Old history")
        disease = Label.objects.create(project=project, name="DISEASE", color="#ff0000", hotkey="1")
        document = Document.objects.create(
            project=project,
            text="Asthma and gout .",
            content_hash="h",
            token_starts=[0, 7, 11, 16],
            token_ends=[6, 10, 15, 17],
        )
        user = old.get_model("auth", "User").objects.create(username="rita")
        annotation = Annotation_.objects.create(
            document=document, annotator=user, version=3, bio_tags=["B-DISEASE", "O", "B-DISEASE", "O"]
        )
        for start, end in [(0, 6), (11, 15)]:
            Span.objects.create(annotation=annotation, label=disease, start=start, end=end)
        asthma, gout = [0, 6, disease.pk, "manual", None, False], [11, 15, disease.pk, "manual", None, False]
        Change.objects.create(annotation=annotation, action="add", before=[], after=[asthma])
        Change.objects.create(annotation=annotation, action="add", before=[asthma], after=[asthma, gout])

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps.get_model("annotation", "AnnotationChange")
        assert list(new.objects.order_by("id").values_list("removed", "added")) == [([], [asthma]), ([], [gout])]
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    current = Annotation.objects.get(pk=annotation.pk)
    undone = editing.undo(current, version=3).annotation
    assert list(undone.spans.values_list("start", "end")) == [(0, 6)]
    assert Annotation.objects.get(pk=annotation.pk).bio_tags == ["B-DISEASE", "O", "O", "O"]
