from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotation.demo.build_demo import DEMO_FILE
from annotation.models import Project
from annotation.services import create_project, import_documents
from annotation.text.formats.jsonl import read_doccano_jsonl

DEMO_NAME = "Clinical NER demo"
DEMO_GUIDELINES = """\
## What to tag

- **DISEASE**: a disease, syndrome, disorder or deficiency, e.g. *adrenoleukodystrophy*,
  *G6PD deficiency*, *hereditary breast and ovarian cancer*. Include modifiers that are
  part of the name (*adult-onset*), not general words such as *patients*.
- **TREATMENT**: a therapy, drug, diet or procedure given to treat or prevent a disease,
  e.g. *dietary treatment*, *chemotherapy*, *bone marrow transplantation*.

## Edges

Tag the shortest span that still names the thing. Leave out articles and trailing
punctuation. Abbreviations in brackets, e.g. *(ALD)*, get their own span.
"""


class Command(BaseCommand):
    help = f'Load the "{DEMO_NAME}" project: 240 NCBI-disease abstracts, 200 of them annotated.'

    def handle(self, *args, **options):
        if Project.objects.filter(name=DEMO_NAME).exists():
            self.stdout.write(f'The "{DEMO_NAME}" project exists already.')
            return
        owner = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
        if owner is None:
            raise CommandError("Create an admin account first: manage.py ensure_admin")
        with DEMO_FILE.open(encoding="utf-8") as lines:
            documents = list(read_doccano_jsonl(lines))
        project = create_project(
            DEMO_NAME,
            description="Public-domain PubMed abstracts from the NCBI-disease corpus.",
            guidelines=DEMO_GUIDELINES,
            created_by=owner,
        )
        summary = import_documents(project, documents, importer=owner, filename=DEMO_FILE.name)
        self.stdout.write(
            self.style.SUCCESS(
                f'Loaded "{DEMO_NAME}": {summary.documents_created} documents, {summary.mentions_imported} spans.'
            )
        )
