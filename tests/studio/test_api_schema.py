"""The API against its own OpenAPI schema: schemathesis generates requests for every operation
from `/api/v1/schema/` on the live test server, sends them with a token, and checks that no
answer is a server error or strays from the documented statuses, content types and bodies."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from annotation import editing
from annotation.models import Label
from annotation.services import create_project
from annotation.text.formats.detect import EXPORT_FORMATS
from studio.tokens import create_token
from tests.cast import person
from tests.conftest import make_document
from training.models import ModelVersion, TrainingRun

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def world(transactional_db, django_user_model):
    """Real objects for the path parameters, so requests reach past the 404s."""
    user = person("fuzzer")
    project = create_project("Fuzzed", created_by=user)
    document = make_document(project, "Aspirin relieved the migraine of a patient with asthma .")
    label = Label.objects.get(project=project, name="DISEASE")
    editing.add_span(editing.annotation_for(document, user), version=1, first_token=3, last_token=3, label=label)
    run = TrainingRun.objects.create(project=project, status="succeeded", metrics={"evaluation": {}})
    version = ModelVersion.objects.create(project=project, run=run, artifact_path="/nonexistent", is_active=True)
    _, key = create_token(user, "schemathesis")
    ids = {
        "project_id": project.pk,
        "document_id": document.pk,
        "label_id": label.pk,
        "run_id": run.pk,
        "version_id": version.pk,
    }
    return key, ids


MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


def test_every_operation_keeps_to_its_schema(live_server, world):
    key, ids = world
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 22
    failures = []
    for operation in operations:
        for mode in MODES:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
            )
            def keeps_to_schema(case):
                if case.path_parameters:
                    case.path_parameters = {name: ids.get(name, value) for name, value in case.path_parameters.items()}
                response = case.call(base_url=live_server.url, headers={"Authorization": f"Token {key}"})
                case.validate_response(response, checks=CHECKS)

            try:
                keeps_to_schema()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE, operation.label  # nothing invalid to send
            except Exception as failure:  # every operation is tried; all failures are reported together
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)


def test_the_schema_documents_every_operation_with_typed_bodies_and_errors(client):
    document = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert document.status_code == 200
    spec = (
        __import__("json").loads(document.content) if document["Content-Type"].startswith("application/json") else None
    )
    if spec is None:
        import yaml

        spec = yaml.safe_load(document.content)
    assert spec["openapi"].startswith("3.")
    operations = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
    assert len(operations) >= 22
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert path.startswith("/api/v1/"), where
        assert {"401", "429"} <= set(operation["responses"]), where
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert success, where
        if method in {"post", "put", "patch"} and "requestBody" in operation:
            assert operation["requestBody"]["content"]["application/json"]["schema"], where
        assert operation.get("summary"), where
    assert "tokenAuth" in spec["components"]["securitySchemes"]
    # Whatever an export streams, the schema says it may.
    export = next(op for path, method, op in operations if op.get("operationId") == "export")
    documented = set(export["responses"]["200"]["content"])
    assert {fmt.content_type.split(";")[0] for fmt in EXPORT_FORMATS.values()} <= documented


def test_the_docs_page_loads_without_the_internet(client, admin):
    client.force_login(admin)  # production asks for a log-in first; the page is the same
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html and "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower()
