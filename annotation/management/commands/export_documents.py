import getpass
import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.exports import export_chunks, export_redaction, export_rule, rule_summary
from annotation.management.commands._project import find_project
from annotation.review import ExportRule
from annotation.text.formats.detect import EXPORT_FORMATS
from annotation.text.redact import MODES
from studio import access_log


def _account() -> str:
    """The system account running the command: the export's reader in the access log."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no password entry for the uid
        return f"uid {os.getuid()}"


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
        parser.add_argument(
            "--rule",
            choices=[kind for kind, _ in ExportRule.CHOICES],
            default=ExportRule.REVIEWED_ONLY,
            help="For documents whose annotators disagree and that nobody reviewed: leave them out (reviewed, the "
            "default), write one person's version (annotator, with --annotator), or the spans more than half of "
            "the annotators made (majority).",
        )
        parser.add_argument("--annotator", default="", help="The user name whose versions --rule annotator writes.")
        parser.add_argument(
            "--redact",
            choices=sorted(MODES),
            help="Hide the text of the --redact-label labels (default: the identifying ones): mask keeps every "
            "offset (each character becomes █), tag writes [LABEL] in its place and shifts what follows.",
        )
        parser.add_argument(
            "--redact-label",
            action="append",
            default=[],
            dest="redact_labels",
            metavar="LABEL",
            help="A label whose text --redact hides; repeat for more.",
        )
        parser.add_argument("-o", "--output", type=Path, help="File to write (default: standard output).")

    def handle(self, *args, project, format, all, rule, annotator, redact, redact_labels, output, **options):
        project = find_project(project)
        try:
            chosen = export_rule(project, rule, annotator)
            redaction = export_redaction(project, redact or "", redact_labels)
        except ValueError as problem:
            raise CommandError(str(problem)) from None
        self.stderr.write(rule_summary(project, chosen))
        if redaction:
            self.stderr.write(f"Redacted ({redaction.mode}): {', '.join(sorted(redaction.labels))}")
        chunks = export_chunks(
            project,
            format,
            finished_only=not all,
            rule=chosen,
            reader=_account(),
            via=access_log.Via.COMMAND,
            redaction=redaction,
        )
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
