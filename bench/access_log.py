"""What the access log adds to a page view: the labelling page with and without its entry.

    nice .venv/bin/python -m bench.access_log [--repeat 300]

The labelling page opens a 500-token abstract through Django's test client in this process,
in pairs of views, one with `studio.access_log.record` and one with a no-op in its place, so
drift in the machine's load falls on both alike. The added cost is the median of the pairs'
differences; the entry alone (one INSERT, no read) is timed too. Target: under 2 ms.
"""

import argparse
import statistics
import sys
import time

from bench.common import bench_admin, delete_projects, print_table, setup_django, time_calls
from bench.labelling import text_of

PROJECT = "bench-access-log"
TARGET_MS = 2.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=300, help="page views of each kind")
    args = parser.parse_args(argv)
    setup_django()
    from django.test import Client
    from django.urls import reverse

    from annotation.services import create_document, create_project
    from studio import access_log

    user = bench_admin()
    delete_projects(PROJECT)
    project = create_project(PROJECT, created_by=user)
    document = create_document(project, text_of(500), title="500 tokens")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    url = reverse("annotate", args=[project.pk, document.pk])
    logging_record = access_log.record

    def not_logged(*args, **kwargs):
        return None

    def view(logged: bool) -> float:
        access_log.record = logging_record if logged else not_logged
        start = time.perf_counter()
        client.get(url)
        return (time.perf_counter() - start) * 1000

    for logged in (True, False) * 5:  # warm-up
        view(logged)
    views, added = {True: [], False: []}, []
    for index in range(args.repeat):
        first = index % 2 == 0  # which goes first alternates, so neither gets the warmer cache
        pair = {first: view(first), not first: view(not first)}
        views[True].append(pair[True])
        views[False].append(pair[False])
        added.append(pair[True] - pair[False])
    access_log.record = logging_record
    entry_alone = time_calls(
        lambda: access_log.record(
            user, access_log.Action.OPEN, via=access_log.Via.PAGE, project=project, documents=[document]
        ),
        args.repeat,
    )
    with_log, without = statistics.median(views[True]), statistics.median(views[False])
    print_table(
        ["measure", "ms (median)"],
        [
            ["labelling page, logged", f"{with_log:.2f}"],
            ["labelling page, not logged (baseline)", f"{without:.2f}"],
            ["added by the log (median of the paired differences)", f"{statistics.median(added):.2f}"],
            ["ratio logged / baseline", f"{with_log / without:.3f}×"],
            ["the entry alone (one INSERT)", f"{statistics.median(entry_alone):.2f}"],
        ],
        f"Access log cost of a page view, {len(views[True])} views each (target: under {TARGET_MS:.0f} ms)",
    )
    delete_projects(PROJECT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
