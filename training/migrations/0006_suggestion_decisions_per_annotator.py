import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def copy_decisions(apps, schema_editor):
    """Each decision so far becomes its decider's own; one whose decider was deleted is dropped
    (nobody is left for it to hide the suggestion from)."""
    Suggestion = apps.get_model("training", "Suggestion")
    SuggestionDecision = apps.get_model("training", "SuggestionDecision")
    decided = Suggestion.objects.exclude(status="pending").filter(decided_by__isnull=False)
    SuggestionDecision.objects.bulk_create(
        SuggestionDecision(suggestion_id=pk, user_id=user_id, status=status, decided_at=at or django.utils.timezone.now())
        for pk, user_id, status, at in decided.values_list("pk", "decided_by_id", "status", "decided_at").iterator()
    )


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0013_import_job_heartbeat"),
        ("training", "0005_preannotation_heartbeat"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SuggestionDecision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("status", models.CharField(choices=[("accepted", "Accepted as is"), ("edited", "Accepted after an edit"), ("rejected", "Rejected")], max_length=20)),
                ("decided_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("suggestion", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="decisions", to="training.suggestion")),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("suggestion", "user"), name="one_decision_per_annotator")],
            },
        ),
        migrations.RunPython(copy_decisions, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="suggestion", name="suggestion_lookup"),
        migrations.RemoveField(model_name="suggestion", name="decided_at"),
        migrations.RemoveField(model_name="suggestion", name="decided_by"),
        migrations.RemoveField(model_name="suggestion", name="status"),
        migrations.AddIndex(
            model_name="suggestion", index=models.Index(fields=["document", "model_version"], name="suggestion_lookup")
        ),
    ]
