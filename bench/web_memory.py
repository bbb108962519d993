"""Resident memory of a gunicorn web worker after its first pages, beside a baseline tree.

    .venv/bin/python -m bench.web_memory [--baseline REV]

Each tree (this working tree, and REV checked out in a temporary git worktree) is served by
gunicorn with one sync worker on the same embedded PostgreSQL under var/bench. A client logs
in and opens the project list, a project's documents and a document's labelling page; the
worker's RSS is read after boot and after each page, with whether torch's library is mapped.
REV defaults to the last commit whose web pages imported torch through the training services.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, delete_projects, print_table, setup_django
from bench.soak import free_port, wait_until_serving

BASELINE = "be23d65"
PROJECT = "bench web memory"
PASSWORD = "bench-web-memory-1"


def world() -> list[tuple[str, str]]:
    """A user with a password, a project and a document; the pages to open, by name and path."""
    from django.contrib.auth import get_user_model

    from annotation.services import create_document, create_project

    delete_projects(PROJECT)
    user, _ = get_user_model().objects.get_or_create(username="bench-web", defaults={"is_superuser": True})
    user.is_superuser = user.is_staff = True
    user.set_password(PASSWORD)
    user.save()
    project = create_project(PROJECT, created_by=user)
    document = create_document(project, "Patients with lung cancer were given cisplatin after surgery.")
    return [
        ("project list", "/"),
        ("project documents", f"/projects/{project.pk}/"),
        ("labelling page", f"/projects/{project.pk}/documents/{document.pk}/"),
    ]


def measure(tree: Path, pages: list[tuple[str, str]]) -> list[tuple[str, float, bool]]:
    import psutil
    import requests

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "DEBUG": "true",
        "STUDIO_VAR_DIR": os.environ["STUDIO_VAR_DIR"],
        "PYTHONPATH": str(tree),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "studio.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}", "--log-level", "error"],
        cwd=tree,
        env=env,
        start_new_session=True,
    )
    try:
        wait_until_serving(base)
        (worker,) = psutil.Process(server.pid).children()

        def reading(name):
            torch = any("libtorch" in Path(m.path).name for m in worker.memory_maps())
            return name, worker.memory_info().rss / 2**20, torch

        readings = [reading("after boot and /healthz")]
        session = requests.Session()
        session.get(f"{base}/accounts/login/", timeout=30)
        login = session.post(
            f"{base}/accounts/login/",
            data={"username": "bench-web", "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/"},
            timeout=30,
        )
        login.raise_for_status()
        for name, path in pages:
            answer = session.get(base + path, timeout=60)
            if answer.status_code != 200:
                raise SystemExit(f"{name} answered {answer.status_code} in {tree}")
            readings.append(reading(f"after the {name}"))
        return readings
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    args = parser.parse_args()
    setup_django()
    pages = world()
    with tempfile.TemporaryDirectory() as scratch:
        baseline_tree = Path(scratch) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(baseline_tree), args.baseline], cwd=ROOT, check=True
        )
        try:
            before = measure(baseline_tree, pages)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline_tree)], cwd=ROOT, check=True)
    after = measure(ROOT, pages)
    rows = [
        [
            name,
            f"{old:.0f} MiB",
            "yes" if old_torch else "no",
            f"{new:.0f} MiB",
            "yes" if new_torch else "no",
            f"{new / old:.2f}",
        ]
        for (name, old, old_torch), (_, new, new_torch) in zip(before, after)
    ]
    print_table(["gunicorn worker RSS", f"baseline {args.baseline}", "torch", "this tree", "torch", "ratio"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
