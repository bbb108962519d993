from django.core.management.base import BaseCommand, CommandError

from annotation.consistency import repair as repair_tags
from annotation.consistency import stale_annotations
from annotation.management.commands._project import find_project
from annotation.models import Annotation


class Command(BaseCommand):
    help = "Recompute every annotation's BIO tags from its spans and report (or repair) any that differ."

    def add_arguments(self, parser):
        parser.add_argument("--project", help="Only this project (name or id).")
        parser.add_argument(
            "--repair", action="store_true", help="Rewrite the tags of mismatched annotations from their spans."
        )

    def handle(self, *args, project=None, repair=False, **options):
        annotations = Annotation.objects.all()
        if project:
            annotations = annotations.filter(document__project=find_project(project))
        mismatches = stale_annotations(annotations)
        checked = annotations.count()
        for mismatch in mismatches:
            self.stdout.write(str(mismatch))
        if not mismatches:
            self.stdout.write(self.style.SUCCESS(f"All {checked} annotations' BIO tags match their spans."))
            return
        if repair:
            fixed = repair_tags(mismatches)
            self.stdout.write(self.style.SUCCESS(f"Repaired {fixed} of {checked} annotations."))
            return
        raise CommandError(
            f"{len(mismatches)} of {checked} annotations have BIO tags that disagree with their spans; "
            "run with --repair to rewrite them from the spans."
        )
