from django.db import migrations, models

# A step of the history kept the whole span list before and after it; it now keeps the rows it
# deleted and inserted. Rows both lists share are what the step left alone.
TO_DELTAS = """
UPDATE annotation_annotationchange AS c
   SET removed = COALESCE((SELECT jsonb_agg(row ORDER BY position) FROM jsonb_array_elements(c.removed)
                                  WITH ORDINALITY AS r(row, position)
                            WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(c.added) AS other WHERE other = row)),
                          '[]'::jsonb),
       added = COALESCE((SELECT jsonb_agg(row ORDER BY position) FROM jsonb_array_elements(c.added)
                                WITH ORDINALITY AS r(row, position)
                          WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(c.removed) AS other WHERE other = row)),
                        '[]'::jsonb);
"""


class Migration(migrations.Migration):
    dependencies = [("annotation", "0020_project_target_precision")]

    operations = [
        migrations.RenameField("annotationchange", "before", "removed"),
        migrations.RenameField("annotationchange", "after", "added"),
        migrations.AlterField("annotationchange", "removed", models.JSONField(default=list)),
        migrations.AlterField("annotationchange", "added", models.JSONField(default=list)),
        # Whole lists cannot be rebuilt from the rows a step changed: going back forgets the history.
        migrations.RunSQL(TO_DELTAS, "DELETE FROM annotation_annotationchange;"),
    ]
