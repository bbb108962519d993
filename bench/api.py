"""The REST API as a script uses it, with a personal token.

    nice .venv/bin/python -m bench.api [--documents 1000] [--reads 200]

Pushing NCBI abstracts with their mentions: one bulk request of 1,000 documents against
the same documents sent one request each (what a first script does). Reading one
document's 30 spans (`GET .../spans/`) against reading its whole annotation list entry.
Requests go through Django's test client in this process, so the figures are the server's
work without the network.
"""

import argparse
import json
import os
import sys

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

PROJECT, ONE_BY_ONE = "bench api bulk", "bench api one by one"


def as_payload(document) -> dict:
    return {
        "text": document.text,
        "title": document.title,
        "external_id": document.external_id,
        "spans": [{"start": start, "end": end, "label": "DISEASE"} for start, end, _ in document.mentions],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("API_RATE_LIMIT", "1000000/minute")  # measure the work, not the throttle
    setup_django()
    from django.db.models import Count, F
    from django.db.models.functions import Abs
    from django.test import Client

    from annotation.models import Document
    from annotation.services import create_project
    from studio.tokens import create_token

    user = bench_admin()
    _, key = create_token(user, "benchmark")
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {key}", HTTP_X_FORWARDED_PROTO="https")
    delete_projects(PROJECT, ONE_BY_ONE)
    bulk_project = create_project(PROJECT, created_by=user)
    single_project = create_project(ONE_BY_ONE, created_by=user)
    documents = [as_payload(d) for d in imported_documents(args.documents, first=700_000)]

    def post(project, batch):
        response = client.post(
            f"/api/v1/projects/{project.pk}/documents/",
            json.dumps({"documents": batch}),
            content_type="application/json",
        )
        assert response.status_code == 201, response.content[:300]
        return response.json()

    client.get("/api/v1/projects/")  # loading the URL conf (and torch with it) is start-up work
    with stopwatch() as bulk:
        created = post(bulk_project, documents)
    with stopwatch() as single:
        for document in documents:
            post(single_project, [document])
    assert created["created"] == args.documents
    print_table(
        ["way", "documents", "spans", "seconds", "docs/s"],
        [
            [
                "one bulk request",
                f"{args.documents:,}",
                f"{created['spans_imported']:,}",
                f"{bulk():.2f}",
                f"{args.documents / bulk():.0f}",
            ],
            [
                "a request per document (baseline)",
                f"{args.documents:,}",
                f"{created['spans_imported']:,}",
                f"{single():.2f}",
                f"{args.documents / single():.0f}",
            ],
        ],
        f"Uploading NCBI abstracts with their mentions: bulk is {single() / bulk():.1f}× the baseline",
    )

    # The document whose span count is nearest 30, as in the peers' measurements.
    document_id = (
        Document.objects.filter(project=bulk_project)
        .annotate(spans=Count("annotations__spans"))
        .order_by(Abs(F("spans") - 30), "pk")
        .values_list("pk", flat=True)
        .first()
    )
    spans_url = f"/api/v1/projects/{bulk_project.pk}/documents/{document_id}/spans/"
    listing_url = f"/api/v1/projects/{bulk_project.pk}/annotations/?document={document_id}"
    count = len(client.get(spans_url).json()["spans"])

    def read(url):
        def get():
            response = client.get(url)
            assert response.status_code == 200, response.content[:300]

        return get

    ours = p50_p95(time_calls(read(spans_url), args.reads))
    listing = p50_p95(time_calls(read(listing_url), args.reads))
    print_table(
        ["read one document's spans", "spans", "p50 ms", "p95 ms"],
        [
            ["GET .../documents/<id>/spans/", count, f"{ours[0]:.1f}", f"{ours[1]:.1f}"],
            ["GET .../annotations/?document=<id> (baseline)", count, f"{listing[0]:.1f}", f"{listing[1]:.1f}"],
        ],
        f"Reading spans over {args.reads} calls, target p95 ≤ 8 ms (peers, same machine: doccano 11–14 / 17–21 ms,"
        " Label Studio 62–100 / 102–132 ms)",
    )
    delete_projects(PROJECT, ONE_BY_ONE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
