from django.db import migrations, models

# The audit log is shared by every app, so it lives in `studio`, the layer below them. Its
# table (and the trigger that keeps it append-only) stays where it is: only Django's idea of
# which app owns it changes.


class Migration(migrations.Migration):
    dependencies = [
        ("studio", "0003_remove_failed_logins"),
        ("annotation", "0013_import_job_heartbeat"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("at", models.DateTimeField(auto_now_add=True)),
                        ("actor_id", models.BigIntegerField(blank=True, null=True)),
                        ("actor_name", models.CharField(blank=True, max_length=150)),
                        ("action", models.CharField(max_length=40)),
                        ("project_id", models.BigIntegerField(blank=True, null=True)),
                        ("document_id", models.BigIntegerField(blank=True, null=True)),
                        ("object_type", models.CharField(blank=True, max_length=40)),
                        ("object_id", models.BigIntegerField(blank=True, null=True)),
                        ("before", models.JSONField(blank=True, null=True)),
                        ("after", models.JSONField(blank=True, null=True)),
                    ],
                    options={
                        "db_table": "annotation_auditentry",
                        "ordering": ["-at", "-id"],
                        "indexes": [
                            models.Index(fields=["project_id", "-at"], name="audit_project"),
                            models.Index(fields=["document_id", "-at"], name="audit_document"),
                        ],
                    },
                ),
            ],
        ),
    ]
