from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0018_gold_apart_from_versions"),
    ]

    operations = [
        migrations.AddField(
            model_name="label",
            name="identifying",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Its text identifies a person: masked for annotators the project does not allow, and "
                "redacted by exports that ask for it.",
            ),
        ),
        migrations.AddField(
            model_name="project",
            name="annotators_see_identifying",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Annotators see the text of identifying labels; otherwise it reaches them masked "
                "(reviewers and admins always see it).",
            ),
        ),
    ]
