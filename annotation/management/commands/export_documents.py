import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation import selectors
from annotation.management.commands._project import find_project
from annotation.text.formats.detect import EXPORT_FORMATS, export_documents


class Command(BaseCommand):
    help = "Export a project's documents and annotations, streamed."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project name or id.")
        parser.add_argument("--format", choices=sorted(EXPORT_FORMATS), default="doccano")
        parser.add_argument(
            "--all",
            action="store_true",
            help="Include in-progress annotations and unannotated documents (default: submitted and reviewed only).",
        )
        parser.add_argument("-o", "--output", type=Path, help="File to write (default: standard output).")

    def handle(self, *args, project, format, all, output, **options):
        project = find_project(project)
        labels = project.labels.order_by("pk").values_list("name", flat=True)
        chunks = export_documents(format, selectors.export_documents(project, finished_only=not all), labels=labels)
        if output is None:
            for chunk in chunks:
                if isinstance(chunk, bytes):
                    sys.stdout.flush()
                    sys.stdout.buffer.write(chunk)
                else:
                    sys.stdout.write(chunk)
            return
        # Written beside the target and renamed at the end, so a failure leaves no half file.
        directory = output.resolve().parent
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory")
        handle, partial = tempfile.mkstemp(dir=directory, prefix=f".{output.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    out.write(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8"))
            os.replace(partial, output)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        self.stderr.write(self.style.SUCCESS(f"Wrote {output}"))
