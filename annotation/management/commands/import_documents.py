from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.imports import ImportRejected, import_path
from annotation.management.commands._project import find_project, find_user
from annotation.models import Project
from annotation.services import create_project
from annotation.text.formats.conll import SENTENCES_PER_DOCUMENT
from annotation.text.formats.detect import FORMATS


class Command(BaseCommand):
    help = "Import documents (and their mentions) into a project. Each file imports whole or not at all."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project name or id.")
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--format", choices=sorted(FORMATS), help="Override format detection.")
        parser.add_argument("--column", help="CSV: the column holding the text.")
        parser.add_argument(
            "--sentences-per-document",
            type=int,
            metavar="N",
            help="CoNLL without -DOCSTART- lines: start a new document every N sentences; 0 keeps the "
            f"file as one document (default {SENTENCES_PER_DOCUMENT}). Refused for files with -DOCSTART- lines.",
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="SOURCE=LABEL",
            help="Map an incoming label to a project label (LABEL empty drops it). Repeatable.",
        )
        parser.add_argument(
            "--drop-unmapped",
            action="store_true",
            help="Drop mentions whose label the project lacks, instead of creating the label.",
        )
        parser.add_argument("--create-project", action="store_true", help="Create the project if missing.")
        parser.add_argument(
            "--user",
            help="Who imports, and whose the mentions are when the file names no annotator (default: first admin).",
        )
        parser.add_argument(
            "--status",
            choices=["submitted", "in_progress", "suggestions"],
            default="submitted",
            help="Status of the imported annotations (default submitted: finished work; then a document "
            "without mentions in a file that carries annotations counts as checked and empty), or "
            "suggestions: a pre-annotation for annotators to accept or reject.",
        )

    def handle(
        self,
        *args,
        project,
        files,
        format,
        column,
        sentences_per_document,
        map,
        drop_unmapped,
        create_project,
        user,
        status,
        **options,
    ):
        if sentences_per_document is not None and sentences_per_document < 0:
            raise CommandError("--sentences-per-document must be 0 or more")
        user = find_user(user)
        created = create_project and not Project.objects.filter(name=project).exists()
        target = self._project(project, create_project, user)
        mapping = {}
        for rule in map:
            source, sep, label = rule.partition("=")
            if not sep or not source:
                raise CommandError(f"--map {rule!r}: expected SOURCE=LABEL")
            mapping[source] = label
        failures = 0
        for path in files:
            if not path.is_file():
                self.stderr.write(self.style.ERROR(f"{path}: no such file"))
                failures += 1
                continue
            try:
                summary = import_path(
                    target,
                    path,
                    user=user,
                    fmt=format,
                    options={"column": column, "sentences_per_document": sentences_per_document, "status": status},
                    label_mapping=mapping,
                    create_unmapped=not drop_unmapped,
                )
            except ImportRejected as error:
                self.stderr.write(self.style.ERROR(f"Nothing imported from {error}"))
                failures += 1
                continue
            self.stdout.write(self.style.SUCCESS(describe_summary(path.name, summary)))
        if failures:
            if created and not target.documents.exists():
                target.delete()  # a project made for files that were all refused would only be in the way
                self.stderr.write(f"Project {target.name!r} was not kept: nothing was imported into it.")
            raise CommandError(f"{failures} of {len(files)} files were not imported.")

    def _project(self, name, create, user):
        if create and not Project.objects.filter(name=name).exists():
            return create_project(name, created_by=user)
        return find_project(name)


def describe_summary(name: str, summary) -> str:
    """What an import did, in words, with the label mapping it applied."""
    counts = [
        (summary.duplicates_skipped, "duplicates skipped"),
        (summary.suggestions_imported, "suggestions to review"),
        (summary.annotations_added_to_existing, "annotations added to documents the project held"),
        (summary.empty_annotations, "annotations without mentions, imported as checked"),
        (summary.mentions_dropped, "mentions dropped by the mapping"),
        (summary.mentions_off_token_edges, "mentions off the held documents' token edges"),
        (summary.nested_dropped, "nested mentions dropped"),
        (summary.mentions_trimmed, "mentions trimmed of surrounding spaces"),
        (summary.tags_repaired, "I- tags that began a mention read as B-"),
        (summary.forced_splits, "extra token splits"),
    ]
    details = [f"{count} {words}" for count, words in counts if count]
    if summary.labels_created:
        details.append(f"new labels {', '.join(summary.labels_created)}")
    mapping = ", ".join(f"{source} -> {target or '(dropped)'}" for source, target in summary.label_mapping.items())
    lines = [
        f"{name}: {summary.documents_created} documents, {summary.annotations_imported} annotations by "
        f"{', '.join(summary.annotators)}, {summary.mentions_imported} mentions"
        + (f" ({'; '.join(details)})" if details else "")
    ]
    if mapping:
        lines.append(f"  labels: {mapping}")
    return "\n".join(lines)
