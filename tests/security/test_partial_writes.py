"""A refused request changes nothing: no row in any table, no file under MEDIA_ROOT."""

import io
import json
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection

from tests.studio.test_permissions import ADMIN, API_ENDPOINTS, ENDPOINTS, REVIEWER, url_for

pytestmark = pytest.mark.django_db

# Refusals that answer 302 with a message (the rest of the matrix's 302s really do something).
REFUSED_REDIRECTS = {
    "member_save",
    "label_create",
    "label_update",
    "label_delete",
    "training_cancel",
    "learning_curve_start",
    "model_delete",
    "import_retry",
    "review_take",
    "review_drop",
}
# Rows these may add without being a change: sessions, and the records of failed log-ins.
NOT_CHANGES = {"django_session"}


def state() -> tuple[dict, list]:
    tables = [
        model._meta.db_table
        for model in apps.get_models()
        if model._meta.managed and model._meta.db_table not in NOT_CHANGES and model._meta.app_label != "axes"
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(f"(SELECT count(*) FROM {connection.ops.quote_name(t)})" for t in tables))
        counts = dict(zip(tables, cursor.fetchone()))
    media = Path(settings.MEDIA_ROOT)
    files = sorted(str(path.relative_to(media)) for path in media.rglob("*")) if media.exists() else []
    return counts, files


def refused_requests(ids, label_id):
    """(who, method, url, data, content type) for every request the studio refuses."""
    for name, (method, _minimum, allowed, data) in sorted(ENDPOINTS.items()):
        if method == "post" and (allowed in (400, 409) or name in REFUSED_REDIRECTS):
            yield ADMIN, "post", url_for(name, ids), data, None
    for (name, method), (_minimum, allowed, data) in sorted(API_ENDPOINTS.items()):
        if method != "get" and allowed >= 400:
            yield ADMIN, method, url_for(name, ids), json.dumps(data) if data is not None else None, "application/json"
    # Well-formed first edits that are refused: the annotation they would start must not stay.
    bad_edits = {
        "span_add": {"version": 1, "first": 0, "last": 999, "label": label_id},
        "span_relabel": {"version": 1, "label": label_id},
        "span_delete": {"version": 1},
        "suggestion_accept": {"version": 1, "label": 999_999},
        "annotation_undo": {"version": 1},
        "annotation_redo": {"version": 1},
        "annotation_submit": {"version": 7},
    }
    for name, data in bad_edits.items():
        yield REVIEWER, "post", url_for(name, ids), data, None
    spans = {"version": 1, "spans": [{"start": 0, "end": 999, "label": "DISEASE"}]}
    yield REVIEWER, "put", url_for("api_spans", ids), json.dumps(spans), "application/json"
    documents = {
        "documents": [{"text": "fine ."}, {"text": "bad", "spans": [{"start": 0, "end": 9, "label": "DISEASE"}]}]
    }
    yield ADMIN, "post", url_for("api_documents", ids), json.dumps(documents), "application/json"


def test_a_refused_request_leaves_no_row_and_no_file(client, world):
    users, ids = world
    from annotation.models import Label

    label_id = Label.objects.get(pk=ids["label_id"]).pk
    changed = []
    for who, method, url, data, content_type in refused_requests(ids, label_id):
        client.force_login(users[who])
        before = state()
        kwargs = {"content_type": content_type} if content_type else {}
        response = (
            getattr(client, method)(url, data, **kwargs) if data is not None else getattr(client, method)(url, **kwargs)
        )
        assert response.status_code in (302, 400, 404, 409), (url, response.status_code, response.content[:200])
        if state() != before:
            changed.append((method, url, response.status_code))
    assert not changed


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bad.jsonl", b'{"text": "fine"}\n{"text": "x", "label": [[0, 9, "D"]]}\n'),
        ("deep.jsonl", b'{"text": "x", "m": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"),
        ("latin1.txt", "caf\xe9".encode("latin-1")),
    ],
)
def test_a_refused_upload_leaves_no_file(client, world, name, content):
    users, ids = world
    client.force_login(users[ADMIN])
    before = state()
    upload = io.BytesIO(content)
    upload.name = name
    response = client.post(url_for("import_upload", ids), {"file": upload})
    assert response.status_code == 400
    assert state() == before
