"""Saves under load through a PostgreSQL restart, then every acknowledged save reconciled.

    nice .venv/bin/python -m bench.soak [--clients 40] [--seconds 60] [--workers 4]

A real gunicorn serves the API on the embedded PostgreSQL under var/bench. Clients, two per
annotator and document (so their versions really conflict), read their spans and replace
them with one span more or less, sending the version they read, for `--seconds`. Halfway
through, PostgreSQL is restarted. Afterwards each annotation's final state must be its last
acknowledged save, or a later save whose answer was lost to the outage, and its BIO tags must
match its spans. The first half of the run, before the restart, is the baseline for the
request rate and latency.
"""

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ROOT, bench_admin, delete_projects, imported_documents, p50_p95, print_table, setup_django

PROJECT = "bench soak"


@dataclass
class Outcome:
    started: float
    finished: float
    status: int  # 0: no answer (connection refused or reset)
    key: tuple[int, int] = (0, 0)  # (annotator id, document id) of a save
    sent: tuple = ()  # the spans a save sent
    version: int = 0  # the version a successful save answered with


@dataclass
class Client:
    user_id: int
    key: str
    document_id: int
    candidates: list  # token-aligned spans the client toggles
    outcomes: list = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spans_key(spans) -> tuple:
    return tuple(sorted((span["start"], span["end"], span["label"]) for span in spans))


def run_client(client: Client, base: str, project_id: int, deadline: float) -> None:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {client.key}"
    url = f"{base}/api/v1/projects/{project_id}/documents/{client.document_id}/spans/"
    rng = random.Random(client.user_id * 1000 + client.document_id + id(client))
    version, spans = None, []
    while time.monotonic() < deadline:
        outcome = Outcome(time.monotonic(), 0.0, 0)
        try:
            if version is None:
                response = session.get(url, timeout=10)
                if response.status_code == 200:
                    body = response.json()
                    version = body["version"]
                    spans = [{"start": s["start"], "end": s["end"], "label": s["label"]} for s in body["spans"]]
            else:
                toggled = rng.choice(client.candidates)
                edges = (toggled["start"], toggled["end"])
                wanted = [s for s in spans if (s["start"], s["end"]) != edges]
                if len(wanted) == len(spans):
                    wanted.append(toggled)
                outcome.key, outcome.sent = (client.user_id, client.document_id), spans_key(wanted)
                response = session.put(url, json={"version": version, "spans": wanted}, timeout=10)
                version = None  # read again after a conflict or an error
                if response.status_code == 200:
                    version, spans, outcome.version = response.json()["version"], wanted, response.json()["version"]
            outcome.status = response.status_code
        except requests.RequestException:
            version = None
            time.sleep(0.2)
        outcome.finished = time.monotonic()
        client.outcomes.append(outcome)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    os.environ.setdefault("API_RATE_LIMIT", "1000000/minute")  # measure the saves, not the throttle
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.consistency import stale_annotations
    from annotation.models import Annotation, Membership
    from annotation.services import create_document, create_project
    from studio import embedded_db
    from studio.tokens import create_token

    delete_projects(PROJECT)
    admin = bench_admin()
    project = create_project(PROJECT, created_by=admin)
    documents = [
        create_document(project, d.text, title=d.title)
        for d in imported_documents(args.clients // 2 or 1, first=800_000)
    ]
    users = get_user_model().objects
    clients = []
    for index in range(args.clients):
        pair = index // 2
        user, _ = users.get_or_create(username=f"soak-{pair}")
        Membership.objects.get_or_create(project=project, user=user)
        document = documents[pair % len(documents)]
        candidates = [
            {"start": s, "end": e, "label": "DISEASE" if i % 2 else "TREATMENT"}
            for i, (s, e) in enumerate(zip(document.token_starts, document.token_ends))
            if document.text[s:e].isalpha()
        ][:40]
        _, key = create_token(user, f"soak {index}")
        clients.append(Client(user.pk, key, document.pk, candidates))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Conflicts (409) are part of the test; the server need not log each one.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings", "DEBUG": "true", "LOG_LEVEL": "ERROR"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "studio.wsgi",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_until_serving(base)
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=run_client, args=(c, base, project.pk, deadline)) for c in clients]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(args.seconds / 2)
        outage_start = time.monotonic()
        embedded_db.pg_ctl(Path(settings.DATABASES["default"]["PGDATA"]), "-m", "fast", "restart")
        outage_end = time.monotonic()
        for thread in threads:
            thread.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    connection.close()

    outcomes = [o for c in clients for o in c.outcomes]
    # Requests in flight during the restart may fail; a few seconds either side covers reconnects.
    near_outage = [o for o in outcomes if o.finished >= outage_start - 1 and o.started <= outage_end + 5]
    outside = [o for o in outcomes if o not in near_outage]
    statuses = Counter(o.status for o in outcomes)
    errors_outside = sum(1 for o in outside if o.status == 0 or o.status >= 500)

    lost, checked = reconcile(clients, Annotation)
    stale = stale_annotations(Annotation.objects.filter(document__project=project))
    before = [o for o in outcomes if o.finished < outage_start - 1]
    after = [o for o in outcomes if o.started > outage_end + 5]

    def rate(window, span):
        return f"{len(window) / span:.0f}" if span > 0 else "-"

    def latency(window):
        ok = [(o.finished - o.started) * 1000 for o in window if o.status in (200, 409)]
        return p50_p95(ok) if len(ok) > 1 else (0.0, 0.0)

    quiet, recovered = latency(before), latency(after)
    print_table(
        ["figure", "value"],
        [
            ["clients / gunicorn workers / seconds", f"{args.clients} / {args.workers} / {args.seconds:g}"],
            ["requests", f"{len(outcomes):,}"],
            ["answers", ", ".join(f"{code or 'no answer'}: {count}" for code, count in sorted(statuses.items()))],
            ["PostgreSQL restart took", f"{outage_end - outage_start:.1f} s"],
            [
                "errors near the restart (5xx or no answer)",
                sum(1 for o in near_outage if o.status == 0 or o.status >= 500),
            ],
            ["5xx or no answer outside the restart (must be 0)", errors_outside],
            ["acknowledged saves reconciled", f"{checked:,}"],
            ["lost acknowledged saves (must be 0)", lost],
            ["annotations whose BIO tags disagree with their spans (must be 0)", len(stale)],
        ],
        "Soak: saves through a PostgreSQL restart",
    )
    print_table(
        ["phase", "requests/s", "p50 ms", "p95 ms"],
        [
            [
                "before the restart (baseline)",
                rate(before, outage_start - 1 - began),
                f"{quiet[0]:.0f}",
                f"{quiet[1]:.0f}",
            ],
            [
                "after it",
                rate(after, began + args.seconds - outage_end - 5),
                f"{recovered[0]:.0f}",
                f"{recovered[1]:.0f}",
            ],
        ],
        "Throughput and latency around the restart",
    )
    delete_projects(PROJECT)
    return 1 if lost or stale or errors_outside else 0


def reconcile(clients, Annotation) -> tuple[int, int]:
    """Per annotation: the final spans must be the last acknowledged save's, or those of a
    save sent after it whose answer never came (it may have committed)."""
    saves: dict[tuple, list[Outcome]] = {}
    for client in clients:
        for outcome in client.outcomes:
            if outcome.key != (0, 0):
                saves.setdefault(outcome.key, []).append(outcome)
    lost = checked = 0
    for (user_id, document_id), attempts in saves.items():
        annotation = Annotation.objects.filter(annotator_id=user_id, document_id=document_id).first()
        final = (
            spans_key(
                [
                    {"start": s.start, "end": s.end, "label": s.label.name}
                    for s in annotation.spans.select_related("label")
                ]
            )
            if annotation
            else ()
        )
        acknowledged = sorted((o for o in attempts if o.status == 200), key=lambda o: o.version)
        checked += len(acknowledged)
        if not acknowledged:
            continue
        last = acknowledged[-1]
        unanswered = {o.sent for o in attempts if o.status == 0 or o.status >= 500}
        if annotation.version == last.version and final == last.sent:
            continue
        if annotation.version > last.version and final in unanswered:
            continue
        lost += 1
        print(
            f"lost: annotator {user_id} document {document_id}: final version {annotation.version}, "
            f"last acknowledged {last.version}",
            file=sys.stderr,
        )
    return lost, checked


def wait_until_serving(base: str, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code in (200, 503):
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


if __name__ == "__main__":
    sys.exit(main())
