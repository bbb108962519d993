import django.contrib.postgres.fields
import django.contrib.postgres.indexes
import django.utils.timezone
from django.db import migrations, models

# The log refuses every UPDATE, and every DELETE unless the transaction set
# `studio.access_purge` (the retention purge does, with SET LOCAL, and logs what it removed).
APPEND_ONLY = """
CREATE FUNCTION access_log_is_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('studio.access_purge', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the access log is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON studio_accessentry
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_is_append_only();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('studio', '0004_audit_entry_from_annotation'),
    ]

    operations = [
        migrations.CreateModel(
            name='AccessEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
                ('actor_id', models.BigIntegerField(blank=True, null=True)),
                ('actor_name', models.CharField(blank=True, max_length=150)),
                ('action', models.CharField(choices=[('open', 'Opened'), ('export', 'Exported'), ('predict', 'Predicted on')], max_length=10)),
                ('via', models.CharField(choices=[('page', 'Page'), ('api', 'API'), ('command', 'Command'), ('worker', 'Worker')], max_length=10)),
                ('project_id', models.BigIntegerField(blank=True, null=True)),
                ('project_name', models.CharField(blank=True, max_length=200)),
                ('document_ids', django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(), blank=True, default=list, size=None)),
                ('document_name', models.CharField(blank=True, help_text="The one document's title, if one.", max_length=500)),
                ('detail', models.CharField(blank=True, max_length=200)),
            ],
            options={
                'ordering': ['-at', '-id'],
                'indexes': [models.Index(fields=['-at'], name='access_at'), models.Index(fields=['actor_name', '-at'], name='access_actor'), django.contrib.postgres.indexes.GinIndex(fields=['document_ids'], name='access_documents')],
            },
        ),
        migrations.RunSQL(
            APPEND_ONLY,
            """
            DROP TRIGGER access_log_append_only ON studio_accessentry;
            DROP FUNCTION access_log_is_append_only();
            """,
        ),
    ]
