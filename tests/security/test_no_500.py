"""No input gives a 500: every page and API operation, fed the classes of input that broke
them once (NUL, lone surrogates, over-long values, thousand-digit numbers, deep JSON, another
site's address in `next`)."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.cast import person
from tests.studio.test_pages import named_urls
from tests.studio.test_permissions import API_ENDPOINTS, ENDPOINTS, UNSCOPED, url_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # about a thousand requests

NASTY = {
    "nul": "a\x00b",
    "long": "x" * 200,
    "digits": "9" * 5000,
    "past bigint": "9" * 25,
    "negative": "-1",
    "not finite": "1e400",
    "markup": "<script>alert(1)</script>",
    "elsewhere": "https://evil.example/",
}
FIELDS = [
    "name",
    "username",
    "email",
    "password",
    "role",
    "color",
    "hotkey",
    "text",
    "title",
    "q",
    "status",
    "annotator",
    "page",
    "page_size",
    "version",
    "first_token",
    "last_token",
    "label",
    "label_id",
    "span_id",
    "suggestion_id",
    "start",
    "end",
    "split",
    "format",
    "scope",
    "next",
    "action",
    "actor",
    "document",
    "user",
    "since",
    "until",
    "epochs",
    "learning_rate",
    "batch_size",
    "max_length",
    "seed",
    "patience",
    "precision",
    "suggestion_threshold",
    "target_precision",
    "threshold",
    "annotators_per_document",
    "document_order",
    "training_source",
    "description",
    "guidelines",
    "column",
    "sentences_per_document",
    "is_staff",
    "new_password1",
    "new_password2",
    "map:DISEASE",
    "suggestions",
]
SURROGATE_FORM = "&".join(f"{field}=%ED%A0%80" for field in FIELDS)  # \ud800, as a form sends it


def page_urls(ids) -> list[str]:
    """Every page and form of the studio (the API is below), with real objects behind the ids."""
    ids = {**ids, "uidb64": "MQ", "token": "set-password"}
    return [
        url_for(name, ids)
        for name, _ in named_urls()
        if (name in ENDPOINTS or name in UNSCOPED) and not (name.startswith("api_") and name not in ENDPOINTS)
    ]


@pytest.fixture
def staff(world, django_user_model):
    users, ids = world
    superuser = person("fuzzer", superuser=True)
    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    return client, {**ids, "user_id": users["outsider"].pk, "token_id": 1}


@pytest.mark.parametrize("kind", sorted(NASTY))
def test_no_page_answers_500_to_bad_form_or_query_values(staff, kind):
    client, ids = staff
    values = {field: NASTY[kind] for field in FIELDS}
    failed = [
        (method, url, response.status_code)
        for url in page_urls(ids)
        for method, response in (("GET", client.get(url, values)), ("POST", client.post(url, values)))
        if response.status_code >= 500
    ]
    assert not failed


def test_no_page_answers_500_to_lone_surrogates(staff):
    client, ids = staff
    failed = [
        (method, url, response.status_code)
        for url in page_urls(ids)
        for method, response in (
            ("GET", client.get(f"{url}?{SURROGATE_FORM}")),
            ("POST", client.post(url, SURROGATE_FORM, content_type="application/x-www-form-urlencoded")),
        )
        if response.status_code >= 500
    ]
    assert not failed


def api_bodies():
    fields = {field: "VALUE" for field in FIELDS}
    document = {
        "text": "VALUE",
        "title": "VALUE",
        "metadata": {"VALUE": "VALUE"},
        "spans": [{"start": 0, "end": 5, "label": "VALUE"}],
    }
    template = json.dumps({**fields, "documents": [document], "spans": document["spans"]})
    for kind, value in NASTY.items():
        yield kind, template.replace('"VALUE"', json.dumps(value))
    yield "surrogate", template.replace('"VALUE"', '"\\ud800"')
    yield "thousand digits", template.replace('"VALUE"', "9" * 5000)
    yield "deep", '{"documents": ' + "[" * 100_000 + "]" * 100_000 + "}"
    yield "NaN", template.replace('"VALUE"', "NaN")
    yield "not JSON", "{'text': "


@pytest.mark.parametrize("name,method", sorted(API_ENDPOINTS))
def test_no_api_operation_answers_500(staff, name, method):
    client, ids = staff
    url = url_for(name, ids)
    failed = []
    for kind, body in api_bodies() if method != "get" else ():
        response = getattr(client, method)(url, body, content_type="application/json")
        if response.status_code >= 500 or not response["Content-Type"].startswith("application/json"):
            failed.append((kind, response.status_code, response.content[:200]))
    for kind, value in NASTY.items():
        response = client.get(url, {field: value for field in FIELDS})
        if response.status_code >= 500:
            failed.append((f"query {kind}", response.status_code, response.content[:200]))
    assert not failed


def test_next_never_leads_to_another_site(staff):
    client, ids = staff
    url = reverse("model_activate", args=[ids["project_id"], ids["version_id"]])
    for target in ("https://evil.example/", "//evil.example/path", "javascript:alert(1)", "/\\evil.example"):
        response = client.post(url, {"next": target})
        assert response.status_code == 302 and response["Location"] == reverse(
            "training_runs", args=[ids["project_id"]]
        ), target
    same_site = reverse("training_run", args=[ids["project_id"], ids["run_id"]])
    assert client.post(url, {"next": same_site})["Location"] == same_site


@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/password-reset/", "/api/v1/projects/"])
def test_an_oversized_body_is_refused_from_its_declared_length(client, url, settings):
    declared = settings.IMPORT_MAX_BYTES + 2_000_000
    response = client.generic(
        "POST", url, b"--x--", content_type="multipart/form-data; boundary=x", CONTENT_LENGTH=str(declared)
    )
    assert response.status_code == 413
    assert b"limit" in response.content
