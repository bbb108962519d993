from django.db import migrations

# Annotations store their IOB2 tags with label names (B-DISEASE), so renaming or deleting a
# label changes what those tags mean. The database rewrites them in the same transaction,
# whichever path changed the label (settings page, API, admin, shell). Before that it waits
# for writers that may hold tags with the old name and keeps new ones out until it commits:
# imports hold the project row, and edits a key-share lock on the labels of their spans.
REWRITE = """
CREATE FUNCTION label_change_rewrites_tags() RETURNS trigger AS $$
DECLARE
    new_name text := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.name END;
BEGIN
    PERFORM 1 FROM annotation_project WHERE id = OLD.project_id FOR UPDATE;
    PERFORM 1 FROM annotation_label WHERE id = OLD.id FOR UPDATE;
    UPDATE annotation_annotation AS a
       SET bio_tags = array_replace(
               array_replace(a.bio_tags, ('B-' || OLD.name)::varchar, COALESCE('B-' || new_name, 'O')::varchar),
               ('I-' || OLD.name)::varchar, COALESCE('I-' || new_name, 'O')::varchar)
      FROM annotation_document AS d
     WHERE d.id = a.document_id
       AND d.project_id = OLD.project_id
       AND a.bio_tags && ARRAY['B-' || OLD.name, 'I-' || OLD.name]::varchar[];
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER label_rename_rewrites_tags AFTER UPDATE OF name ON annotation_label
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION label_change_rewrites_tags();
CREATE TRIGGER label_delete_rewrites_tags AFTER DELETE ON annotation_label
    FOR EACH ROW EXECUTE FUNCTION label_change_rewrites_tags();
"""

# Renames made before this migration left tags naming labels the project no longer has:
# rewrite those annotations' tags from their spans.
REPAIR = """
UPDATE annotation_annotation AS a
   SET bio_tags = fixed.tags
  FROM (
      SELECT a.id,
             ARRAY(
                 SELECT COALESCE(
                            (SELECT CASE WHEN d.token_starts[i] = s.start THEN 'B-' ELSE 'I-' END || l.name
                               FROM annotation_span s JOIN annotation_label l ON l.id = s.label_id
                              WHERE s.annotation_id = a.id
                                AND s.start <= d.token_starts[i] AND d.token_ends[i] <= s."end"
                              LIMIT 1),
                            'O')
                   FROM generate_subscripts(d.token_starts, 1) AS i
                  ORDER BY i
             )::varchar[] AS tags
        FROM annotation_annotation a JOIN annotation_document d ON d.id = a.document_id
       WHERE EXISTS (
                 SELECT 1 FROM unnest(a.bio_tags) AS tag
                  WHERE tag <> 'O'
                    AND substr(tag, 3) NOT IN (SELECT name FROM annotation_label WHERE project_id = d.project_id))
  ) AS fixed
 WHERE fixed.id = a.id AND a.bio_tags IS DISTINCT FROM fixed.tags;
"""


class Migration(migrations.Migration):
    dependencies = [("annotation", "0011_assignments")]

    operations = [
        migrations.RunSQL(
            REWRITE,
            """
            DROP TRIGGER label_rename_rewrites_tags ON annotation_label;
            DROP TRIGGER label_delete_rewrites_tags ON annotation_label;
            DROP FUNCTION label_change_rewrites_tags();
            """,
        ),
        migrations.RunSQL(REPAIR, migrations.RunSQL.noop),
    ]
