"""Document list latency on a 100,000-document project, against a naive search.

    nice .venv/bin/python -m bench.document_list [--documents 100000] [--requests 200] [--naive-runs 20]

Requests go through Django's test Client in-process, logged in as a superuser, so each figure
is the server's whole work: middleware, view, queries and template. The project (NCBI-disease
abstracts made unique; a third submitted, a sixth in progress, the rest not started) is built
once through the import service and kept in var/bench for later runs.
"""

import argparse

from bench.common import (
    bench_admin,
    delete_projects,
    imported_documents,
    p50_p95,
    print_table,
    setup_django,
    stopwatch,
    time_calls,
)

CHUNK = 1_000
# The status each chunk's imported annotations get, in turn: a third submitted, a sixth in
# progress, and half not started (their mentions are dropped, so no annotation is made).
# (Annotation.Status values and selectors.NOT_STARTED, spelt out: app modules need Django set up.)
NOT_STARTED = "not_started"
CHUNK_STATUSES = ["submitted", NOT_STARTED, "in_progress", "submitted", NOT_STARTED, NOT_STARTED]
# Matches two corpus abstracts, so a few hundred of the copies.
SEARCH_WORD = "hemophilia"
TARGET_P95_MS = 150


def project_name(size: int) -> str:
    return f"bench {size:,} documents"


def build_project(size: int, user):
    from django.db import connection

    from annotation.services import create_project, import_documents

    delete_projects(project_name(size))
    project = create_project(project_name(size), created_by=user)
    for number, first in enumerate(range(0, size, CHUNK)):
        documents = imported_documents(min(CHUNK, size - first), first)
        status = CHUNK_STATUSES[number % len(CHUNK_STATUSES)]
        if status == NOT_STARTED:
            for document in documents:
                document.mentions = []
        import_documents(project, documents, importer=user, annotation_status=status)
    # The planner should see the tables as autovacuum would soon leave them.
    with connection.cursor() as cursor:
        for table in ["annotation_document", "annotation_annotation", "annotation_span"]:
            cursor.execute(f"VACUUM ANALYZE {table}")
    return project


def existing_project(size: int):
    from annotation.models import Project

    project = Project.objects.filter(name=project_name(size)).first()
    return project if project and project.documents.count() == size else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case")
    parser.add_argument("--naive-runs", type=int, default=20, help="timed runs of the naive search")
    args = parser.parse_args(argv)

    setup_django()
    from django.test import Client
    from django.urls import reverse

    from annotation.models import Document
    from annotation.selectors import document_ids

    user = bench_admin()
    project = existing_project(args.documents)
    if project:
        print(f"reusing the project {project.name!r}")
    else:
        with stopwatch() as elapsed:
            project = build_project(args.documents, user)
        print(f"built the project {project.name!r} in {elapsed():.0f} s")

    client = Client(HTTP_HOST="localhost")  # the development ALLOWED_HOSTS has no "testserver"
    client.force_login(user)
    url = reverse("project_documents", args=[project.pk])

    counts_url = reverse("status_summary", args=[project.pk])

    def get(params, target=url):
        response = client.get(target, params)
        assert response.status_code == 200, f"{target} {params}: HTTP {response.status_code}"

    cases = [
        ("first page", {}, document_ids(project)),
        (f"search q={SEARCH_WORD}", {"q": SEARCH_WORD}, document_ids(project, query=SEARCH_WORD)),
        ("status=submitted", {"status": "submitted"}, document_ids(project, status="submitted")),
        ("page=1000", {"page": 1000}, document_ids(project)),
    ]
    rows, search_p50 = [], None
    for name, params, matching in cases:
        p50, p95 = p50_p95(time_calls(lambda params=params: get(params), args.requests))
        search_p50 = p50 if "q" in params else search_p50
        verdict = "met" if p95 < TARGET_P95_MS else "MISSED"
        rows.append([name, f"{matching.count():,}", f"{p50:.1f}", f"{p95:.1f}", verdict])
    # The per-status counts load in their own request right after the page.
    p50, p95 = p50_p95(time_calls(lambda: get({}, counts_url), args.requests))
    rows.append(
        [
            "status counts (loaded after the page)",
            "",
            f"{p50:.1f}",
            f"{p95:.1f}",
            "met" if p95 < TARGET_P95_MS else "MISSED",
        ]
    )
    print_table(
        ["case", "documents matched", "p50 ms", "p95 ms", f"p95 < {TARGET_P95_MS} ms"],
        rows,
        title=f"Document list, {args.documents:,} documents, {args.requests} requests per case",
    )

    def naive_search():
        documents = Document.objects.filter(project=project, text__icontains=SEARCH_WORD)
        return documents.count(), list(documents[:50])

    naive_p50, naive_p95 = p50_p95(time_calls(naive_search, args.naive_runs, warmup=1))
    print(
        f"naive search (text__icontains count + first 50, {args.naive_runs} runs): "
        f"p50 {naive_p50:.1f} ms, p95 {naive_p95:.1f} ms; "
        f"the whole search request is {naive_p50 / search_p50:.1f}x faster at p50"
    )


if __name__ == "__main__":
    main()
