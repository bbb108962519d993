import hashlib
import re
from datetime import timedelta

import pytest
from django.http import Http404
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from annotation.models import Membership
from annotation.services import create_project
from studio import tokens
from studio.models import ApiToken, AuditEntry
from tests.cast import person

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/projects/"


@pytest.fixture
def member(nurse):
    return nurse


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def created_key(response) -> str:
    return re.search(r'value="(ner_[A-Za-z0-9_-]+)"', response.content.decode()).group(1)


def test_the_raw_key_is_never_stored(member):
    token, key = tokens.create_token(member, "  training pipeline ")
    assert key.startswith("ner_") and len(key) > 40
    assert token.name == "training pipeline"
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(token.prefix) and len(token.prefix) < len(key) / 2
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert not any(key in str(value) for value in stored.values())
    entry = AuditEntry.objects.get(action="token.create", object_id=token.pk)
    assert key not in str(entry.after) and entry.actor_id == member.pk


def test_a_token_authenticates_api_calls(client, member):
    Membership.objects.create(project=create_project("Wards"), user=member)
    create_project("Someone else's")
    token, key = tokens.create_token(member, "pipeline")
    assert token.last_used_at is None

    response = client.get(PROJECTS, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200, response.content[:300]
    assert "Wards" in response.content.decode()
    assert "Someone else" not in response.content.decode()
    token.refresh_from_db()
    assert token.last_used_at is not None

    assert client.get(PROJECTS, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200


def test_unauthenticated_api_calls_get_401_with_a_challenge(client, member):
    tokens.create_token(member, "pipeline")
    anonymous = client.get(PROJECTS)
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"

    wrong = client.get(PROJECTS, HTTP_AUTHORIZATION="Token ner_not-a-real-key")
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "Invalid token."

    malformed = client.get(PROJECTS, HTTP_AUTHORIZATION="Token")
    assert malformed.status_code == 401
    assert "Invalid token header" in malformed.json()["detail"]


def test_a_revoked_token_is_refused_with_the_date(client, member):
    token, key = tokens.create_token(member, "pipeline")
    tokens.revoke_token(member, token.pk)
    response = client.get(PROJECTS, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response.json()["detail"].startswith(f"This token was revoked on {timezone.now():%Y-%m-%d}")


def test_an_inactive_users_token_is_refused(client, member):
    _, key = tokens.create_token(member, "pipeline")
    member.is_active = False
    member.save()
    response = client.get(PROJECTS, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response.json()["detail"] == "This user is inactive."


def test_last_used_is_written_at_most_once_a_minute(member, django_assert_num_queries):
    token, key = tokens.create_token(member, "pipeline")
    request = RequestFactory().get(PROJECTS, HTTP_AUTHORIZATION=f"Token {key}")
    authentication = tokens.TokenAuthentication()

    with django_assert_num_queries(2):  # the lookup, and the first use is written
        user, authenticated = authentication.authenticate(request)
    assert (user, authenticated) == (member, token)
    first_use = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first_use is not None

    with django_assert_num_queries(1):
        authentication.authenticate(request)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first_use

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - timedelta(minutes=2))
    with django_assert_num_queries(2):
        authentication.authenticate(request)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first_use


def test_no_authorization_header_leaves_it_to_the_session(member):
    assert tokens.TokenAuthentication().authenticate(RequestFactory().get(PROJECTS)) is None
    basic = RequestFactory().get(PROJECTS, HTTP_AUTHORIZATION="Basic bnVyc2U6eA==")
    assert tokens.TokenAuthentication().authenticate(basic) is None


def test_the_profile_shows_a_new_key_once(member_client):
    created = member_client.post(reverse("api_token_create"), {"name": "training pipeline"})
    assert created.status_code == 200
    page = created.content.decode()
    key = created_key(created)
    assert "will not be shown again" in page
    assert "no-cache" in created["Cache-Control"]
    token = ApiToken.objects.get()
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()

    later = member_client.get(reverse("profile"))
    assert later.status_code == 200
    page = later.content.decode()
    assert key not in page
    assert "will not be shown again" not in page
    assert "training pipeline" in page
    assert f"{token.prefix}…" in page
    assert "never" in page


def test_revoking_from_the_profile(client, member_client, member):
    token, key = tokens.create_token(member, "pipeline")
    response = member_client.post(reverse("api_token_revoke", args=[token.pk]), follow=True)
    assert response.redirect_chain == [(reverse("profile"), 302)]
    page = response.content.decode()
    assert "Revoked the token “pipeline”" in page
    assert "Revoked " in page and "Active</span>" not in page
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEntry.objects.filter(action="token.revoke", object_id=token.pk).exists()
    client.logout()
    assert client.get(PROJECTS, HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_nobody_revokes_someone_elses_token(member_client, admin):
    theirs, _ = tokens.create_token(admin, "admin's script")
    assert member_client.post(reverse("api_token_revoke", args=[theirs.pk])).status_code == 404
    assert member_client.post(reverse("api_token_revoke", args=[theirs.pk + 1000])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert "admin&#x27;s script" not in member_client.get(reverse("profile")).content.decode()


def test_revoke_token_refuses_other_users(member, admin):
    theirs, _ = tokens.create_token(admin, "admin's script")
    with pytest.raises(Http404):
        tokens.revoke_token(member, theirs.pk)
    mine, _ = tokens.create_token(member, "mine")
    first = tokens.revoke_token(member, mine.pk).revoked_at
    assert tokens.revoke_token(member, mine.pk).revoked_at == first


def test_the_token_routes_only_take_posts(member_client, member):
    token, _ = tokens.create_token(member, "pipeline")
    assert member_client.get(reverse("api_token_create")).status_code == 405
    assert member_client.get(reverse("api_token_revoke", args=[token.pk])).status_code == 405
    assert ApiToken.objects.get().revoked_at is None


def test_a_blank_name_is_refused(member_client):
    response = member_client.post(reverse("api_token_create"), {"name": "   "})
    assert response.status_code == 400
    assert "Give the token a name" in response.content.decode()
    assert "ner_" not in response.content.decode()
    assert not ApiToken.objects.exists()

    too_long = member_client.post(reverse("api_token_create"), {"name": "x" * 101})
    assert too_long.status_code == 400
    assert "100 characters or fewer" in too_long.content.decode()
    assert not ApiToken.objects.exists()


def test_live_tokens_are_limited(member):
    for number in range(tokens.MAX_LIVE_TOKENS):
        tokens.create_token(member, f"job {number}")
    with pytest.raises(tokens.TokenRefused, match="revoke one"):
        tokens.create_token(member, "one too many")
    tokens.revoke_token(member, member.api_tokens.first().pk)
    tokens.create_token(member, "replacement")
    assert member.api_tokens.filter(revoked_at__isnull=True).count() == tokens.MAX_LIVE_TOKENS


def test_the_profile_lists_projects_and_explains_tokens(member_client, member, admin, client):
    Membership.objects.create(project=create_project("Wards"), user=member, role=Membership.Role.REVIEWER)
    page = member_client.get(reverse("profile")).content.decode()
    assert "nurse@example.org" in page
    assert re.search(r"Wards</a></td><td>Reviewer", page)
    assert "No API tokens yet" in page
    assert 'curl -H "Authorization: Token &lt;key&gt;" http://testserver/api/v1/projects/' in page
    assert 'href="/api/v1/docs/"' in page
    assert "see every project" not in page
    assert f'href="{reverse("profile")}"' in page

    client.force_login(admin)
    assert "see every project" in client.get(reverse("profile")).content.decode()


def test_the_profile_needs_a_login(client):
    response = client.get(reverse("profile"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_schema_documents_the_token_scheme():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Token <key>, from your profile page",
    }


@pytest.fixture
def three_a_minute(monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import UserRateThrottle

    cache.clear()
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "3/minute")
    yield
    cache.clear()


@pytest.mark.django_db
def test_throttling_counts_each_user_on_their_own(client, django_user_model, three_a_minute):
    from studio.tokens import create_token

    _, busy = create_token(person("busy"), "loop")
    _, calm = create_token(person("calm"), "once")
    answers = [client.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {busy}") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    assert "throttled" in answers[-1].json()["detail"]
    assert client.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {calm}").status_code == 200


@pytest.mark.django_db
def test_a_token_name_with_a_nul_character_is_refused(django_user_model):
    from studio.tokens import TokenRefused, create_token

    with pytest.raises(TokenRefused, match="NUL"):
        create_token(person("nul"), "a\x00b")
