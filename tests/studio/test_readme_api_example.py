"""The README's REST API example, run as written against a live server and a real worker,
so the README cannot drift from the API."""

import json
import re
import subprocess
import sys

import pytest
from django.contrib.auth.models import Permission

from annotation.models import Annotation, Project
from studio.tokens import create_token
from tests.cast import person
from tests.conftest import ROOT, subprocess_env
from tests.training.conftest import TINY_VOCABULARY, build_tiny_bert
from tests.training.test_runs import FAST, SENTENCES, mentions
from training.models import TrainingRun

PROJECT_NAME = "README example"


def readme_example() -> str:
    """The first python code block under "## The REST API" in README.md."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## The REST API\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert match, "README.md has no python code block under '## The REST API'"
    return match.group(1)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), TINY_VOCABULARY)


@pytest.fixture
def doccano_file(tmp_path):
    path = tmp_path / "notes.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for index in range(12):
            text, wanted = SENTENCES[index % len(SENTENCES)]
            text = f"{text} ( {index} )"
            out.write(json.dumps({"text": text, "label": [list(m) for m in mentions(text, wanted)]}) + "\n")
    return path


def test_the_readme_api_example_trains_and_predicts(
    live_server, huey_consumer, django_user_model, settings, tiny_bert, doccano_file
):
    settings.BASE_MODEL = tiny_bert
    user = person("pipeline")
    user.user_permissions.add(Permission.objects.get(codename="add_project"))  # as the README asks
    _, key = create_token(user, "README example")
    env = subprocess_env(
        STUDIO_URL=live_server.url,
        STUDIO_TOKEN=key,
        JSONL_PATH=str(doccano_file),
        TRAINING_OPTIONS=json.dumps(FAST),
        PROJECT_NAME=PROJECT_NAME,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )

    finished = subprocess.run(
        [sys.executable, "-c", readme_example()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output + huey_consumer.log_path.read_text()
    lines = finished.stdout.splitlines()
    assert "Uploaded 12 documents (0 duplicates skipped)" in lines
    statuses = [line for line in lines if line.startswith("Run ")]
    assert statuses and statuses[-1].endswith("succeeded, 100%"), output
    assert any(line.startswith("Model version ") for line in lines), output
    entities = [line for line in lines if re.match(r"(DISEASE|TREATMENT) +'[^']+' at \d+-\d+ \(\d\.\d\d\)$", line)]
    assert entities, output

    project = Project.objects.get(name=PROJECT_NAME)
    assert project.documents.count() == 12
    run = TrainingRun.objects.get(project=project)
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert run.base_model == tiny_bert
    annotations = Annotation.objects.filter(document__project=project)
    assert annotations.count() == 12
    assert set(annotations.values_list("status", flat=True)) == {Annotation.Status.SUBMITTED}
    assert set(annotations.values_list("annotator", flat=True)) == {user.pk}
