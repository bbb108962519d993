"""Import speed: abstracts through `manage.py import_documents`, against row-by-row inserts.

    nice .venv/bin/python -m bench.import_documents [--documents 10000] [--baseline 1000]

Both read a PubTator file made of NCBI-disease abstracts (copies made unique) and are timed
whole: decode, parse, tokenise, insert. The baseline inserts one row at a time (a document,
its annotation, then one span per mention) in one transaction, with the same tokenisation.
"""

import argparse
import io

from bench.common import (
    ROOT,
    bench_admin,
    delete_projects,
    print_table,
    setup_django,
    stopwatch,
    write_pubtator,
)

PROJECT = "bench import"
BASELINE_PROJECT = "bench import, row by row"
TARGET_DOCS_PER_SECOND = 500
PEERS = (
    "doccano 1.8.4: 2,000 abstracts in 2.1–3.2 s (625–950 docs/s); Label Studio 1.23.2: 2.0–2.2 s (910–1,000 docs/s)"
)


def import_with_command(path) -> float:
    from django.core.management import call_command

    with stopwatch() as elapsed:
        call_command("import_documents", PROJECT, str(path), "--create-project", stdout=io.StringIO())
    return elapsed()


def import_row_by_row(path, user) -> float:
    from django.db import transaction
    from django.utils import timezone

    from annotation.imports import KNOWN_LABEL_ALIASES, parse_file
    from annotation.models import Annotation, Document, Span
    from annotation.services import content_hash, create_project
    from annotation.text.bio import spans_to_tags
    from annotation.text.tokenize import tokenize

    project = create_project(BASELINE_PROJECT, created_by=user)
    labels = {label.name: label for label in project.labels.all()}
    with stopwatch() as elapsed, transaction.atomic():
        _format, documents = parse_file(path, path.name, None, {})
        for imported in documents:
            mentions = [
                (start, end, labels[KNOWN_LABEL_ALIASES[name.upper()]]) for start, end, name in imported.mentions
            ]
            tokens = tokenize(imported.text, [edge for start, end, _ in mentions for edge in (start, end)])
            document = Document.objects.create(
                project=project,
                title=imported.title,
                external_id=imported.external_id,
                text=imported.text,
                metadata=imported.metadata,
                content_hash=content_hash(imported.text),
                token_starts=tokens.starts,
                token_ends=tokens.ends,
            )
            if not mentions:
                continue
            annotation = Annotation.objects.create(
                document=document,
                annotator=user,
                status=Annotation.Status.SUBMITTED,
                submitted_at=timezone.now(),
                bio_tags=spans_to_tags(
                    tokens.starts, tokens.ends, [(start, end, label.name) for start, end, label in mentions]
                ),
            )
            for start, end, label in mentions:
                Span.objects.create(
                    annotation=annotation, label=label, start=start, end=end, source=Span.Source.IMPORTED
                )
    return elapsed()


def stored(project_name: str) -> tuple[int, int]:
    from annotation.models import Document, Span

    return (
        Document.objects.filter(project__name=project_name).count(),
        Span.objects.filter(annotation__document__project__name=project_name).count(),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=1_000, help="documents for the row-by-row baseline")
    args = parser.parse_args(argv)

    setup_django()
    user = bench_admin()
    delete_projects(PROJECT, BASELINE_PROJECT)
    full_file = write_pubtator(ROOT / "var/bench/import.pubtator", args.documents)
    baseline_file = write_pubtator(ROOT / "var/bench/import-baseline.pubtator", args.baseline)

    rows, rates = [], []
    for way, project, seconds in [
        ("manage.py import_documents", PROJECT, import_with_command(full_file)),
        ("row by row (baseline)", BASELINE_PROJECT, import_row_by_row(baseline_file, user)),
    ]:
        documents, mentions = stored(project)
        rates.append(documents / seconds)
        rows.append([way, f"{documents:,}", f"{mentions:,}", f"{seconds:.2f}", f"{rates[-1]:,.0f}"])
    command_rate, baseline_rate = rates
    print_table(["way", "documents", "mentions", "seconds", "docs/s"], rows, title="Import PubTator abstracts")
    print(f"ratio: {command_rate / baseline_rate:.1f}x the row-by-row baseline")
    verdict = "met" if command_rate >= TARGET_DOCS_PER_SECOND else "MISSED"
    print(f"target: >= {TARGET_DOCS_PER_SECOND} docs/s on 2 cores: {verdict}")
    print(f"peers (performance.md, same machine): {PEERS}; the studio aims at <= 1 s for 2,000")


if __name__ == "__main__":
    main()
