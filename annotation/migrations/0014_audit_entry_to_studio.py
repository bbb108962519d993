from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0013_import_job_heartbeat"),
        ("studio", "0004_audit_entry_from_annotation"),
    ]

    operations = [
        # The table stays; `studio` owns the model now.
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="AuditEntry")]),
    ]
