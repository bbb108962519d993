"""Pieces every database benchmark shares: Django on its own data directory, the corpus,
percentiles and tables."""

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS_FILES = [
    ROOT.parent / "shared/data/ncbi-disease/train.pubtator",
    ROOT.parent / "shared/data/ncbi-disease/devel.pubtator",
]
FALLBACK_CORPUS = [ROOT / "tests/data/ncbi_devel_sample.pubtator"]
# Copies get PMIDs from here on, far above any real PMID, so they never collide.
FIRST_COPY_PMID = 900_000_000


def setup_django() -> None:
    """Configure Django on var/bench (unless STUDIO_VAR_DIR says otherwise), so a benchmark
    never touches a developer's data, and bring its database up to date."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("STUDIO_VAR_DIR", str(ROOT / "var/bench"))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def bench_admin():
    """The superuser benchmarks act as (the import command's default annotator)."""
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_unusable_password()
        user.save()
    return user


def corpus_blocks() -> list[list[str]]:
    """The NCBI-disease abstracts as PubTator blocks, each a list of lines."""
    files = CORPUS_FILES if all(path.is_file() for path in CORPUS_FILES) else FALLBACK_CORPUS
    blocks = []
    for path in files:
        for block in path.read_text(encoding="utf-8").split("\n\n"):
            lines = [line for line in block.splitlines() if line.strip()]
            if lines:
                blocks.append(lines)
    return blocks


def pubtator_copies(count: int, first: int = 0) -> Iterator[str]:
    """Copies number `first` to `first + count` of corpus abstracts as PubTator documents, each
    made unique by a new PMID and a sentence appended to its abstract (mentions precede it,
    so their offsets stay valid)."""
    blocks = corpus_blocks()
    for number in range(first, first + count):
        lines = blocks[number % len(blocks)]
        old_pmid, new_pmid = lines[0].split("|", 1)[0], str(FIRST_COPY_PMID + number)
        copy = []
        for line in lines:
            rest = line[len(old_pmid) :]
            if rest.startswith("|a|"):
                rest += f" This abstract is benchmark copy {number}."
            copy.append(new_pmid + rest)
        yield "\n".join(copy) + "\n"


def write_pubtator(path: Path, count: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(pubtator_copies(count)), encoding="utf-8")
    return path


def imported_documents(count: int, first: int = 0) -> list:
    """The same copies, read by the studio's own PubTator reader."""
    from annotation.text.formats.pubtator import read_pubtator

    return list(read_pubtator("\n".join(pubtator_copies(count, first)).splitlines()))


def delete_projects(*names: str) -> None:
    from annotation.models import Project

    Project.objects.filter(name__in=names).delete()


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """`with stopwatch() as elapsed:` ... `elapsed()` is the seconds the block took."""
    start = time.perf_counter()
    end = None

    def elapsed() -> float:
        return (end or time.perf_counter()) - start

    try:
        yield elapsed
    finally:
        end = time.perf_counter()


def time_calls(call: Callable[[], object], repeat: int, warmup: int = 5) -> list[float]:
    """Milliseconds of `repeat` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p50_p95(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=20, method="inclusive")
    return statistics.median(samples), cuts[18]


def print_table(headers: list[str], rows: list[list], title: str = "") -> None:
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    if title:
        print(f"\n## {title}")
    for index, row in enumerate(cells):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
