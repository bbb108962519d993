"""Migrations that move data keep every decision someone made."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("training", "0005_preannotation_heartbeat"), ("annotation", "0013_import_job_heartbeat")]
AFTER = [("training", "0006_suggestion_decisions_per_annotator")]


@pytest.mark.django_db(transaction=True)
def test_suggestion_decisions_move_to_the_annotators_who_made_them():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("auth", "User")
    Project, Label, Document = (old.get_model("annotation", name) for name in ("Project", "Label", "Document"))
    TrainingRun, ModelVersion, Suggestion = (
        old.get_model("training", n) for n in ("TrainingRun", "ModelVersion", "Suggestion")
    )
    try:
        ann = User.objects.create(username="ann")
        project = Project.objects.create(name="Old")
        label = Label.objects.create(project=project, name="DISEASE", color="#e4572e")
        document = Document.objects.create(project=project, text="Asthma and gout .", content_hash="x")
        run = TrainingRun.objects.create(project=project, status="succeeded")
        version = ModelVersion.objects.create(project=project, run=run, artifact_path="/nowhere")

        def suggestion(start, end, **decided):
            return Suggestion.objects.create(
                document=document,
                model_version=version,
                label=label,
                start=start,
                end=end,
                first_token=0,
                last_token=0,
                confidence=0.9,
                **decided,
            )

        rejected = suggestion(0, 6, status="rejected", decided_by=ann)
        pending = suggestion(11, 15)
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        Decision = new.get_model("training", "SuggestionDecision")
        assert list(Decision.objects.values_list("suggestion_id", "user__username", "status")) == [
            (rejected.pk, "ann", "rejected")
        ]
        assert not Decision.objects.filter(suggestion_id=pending.pk).exists()
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
