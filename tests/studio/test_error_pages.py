"""What each role is shown, and the pages people land on when the answer is no.

A link a role may not follow ends in a 403, so the project pages leave it out; the 403, 404
and 500 pages keep the studio's look and tell people where to go next.
"""

import re

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from annotation.models import Membership
from annotation.services import create_project
from tests.cast import person
from tests.conftest import make_document

ANNOTATOR, REVIEWER, ADMIN = Membership.Role.ANNOTATOR, Membership.Role.REVIEWER, Membership.Role.ADMIN
REVIEWER_LINKS = {"agreement", "audit_log", "export_download"}
ADMIN_LINKS = {"project_settings", "import_upload", "train"}
SHOWN = {
    ANNOTATOR: set(),
    REVIEWER: REVIEWER_LINKS,
    ADMIN: REVIEWER_LINKS | ADMIN_LINKS,
    "staff": REVIEWER_LINKS | ADMIN_LINKS,
}
# Pages with the project tabs, and the lowest role that opens each.
NAV_PAGES = {
    "project_documents": ANNOTATOR,
    "training_runs": ANNOTATOR,
    "try_it": ANNOTATOR,
    "agreement": REVIEWER,
    "audit_log": REVIEWER,
    "project_settings": ADMIN,
    "import_upload": ADMIN,
    "train": ADMIN,
}
RANK = {ANNOTATOR: 1, REVIEWER: 2, ADMIN: 3, "staff": 3}
TABS = re.compile(r'<nav class="tabs" aria-label="Project">.*?</nav>', re.S)

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(django_user_model):
    owner = person("owner")
    users = {}
    for role in (ANNOTATOR, REVIEWER, ADMIN):
        users[role] = person(role)
    users["staff"] = person("staff", is_staff=True)
    return owner, users


def project_with(people, name, *, documents=1):
    owner, users = people
    project = create_project(name, created_by=owner)
    for role in (ANNOTATOR, REVIEWER, ADMIN):
        Membership.objects.create(project=project, user=users[role], role=role)
    for n in range(documents):
        make_document(project, f"Asthma treated with aspirin {n}.")
    return project


def links_in(html, project):
    return {name for name in REVIEWER_LINKS | ADMIN_LINKS if f'"{reverse(name, args=[project.pk])}"' in html}


@pytest.mark.parametrize("role", [ANNOTATOR, REVIEWER, ADMIN, "staff"])
def test_the_document_list_links_only_to_what_the_role_may_open(client, people, role):
    project = project_with(people, "Matrix")
    client.force_login(people[1][role])
    response = client.get(reverse("project_documents", args=[project.pk]))
    assert response.status_code == 200
    assert links_in(response.content.decode(), project) == SHOWN[role]


@pytest.mark.parametrize("role", [ANNOTATOR, REVIEWER, ADMIN])
def test_an_empty_project_offers_the_import_only_to_admins(client, people, role):
    project = project_with(people, "Empty", documents=0)
    client.force_login(people[1][role])
    html = client.get(reverse("project_documents", args=[project.pk])).content.decode()
    assert "No documents yet" in html
    assert ("import_upload" in links_in(html, project)) == (role == ADMIN)


@pytest.mark.parametrize(
    "page,role",
    [(page, role) for page, lowest in sorted(NAV_PAGES.items()) for role in RANK if RANK[role] >= RANK[lowest]],
)
def test_the_project_tabs_match_the_role_on_every_page(client, people, page, role):
    project = project_with(people, "Matrix")
    client.force_login(people[1][role])
    response = client.get(reverse(page, args=[project.pk]))
    assert response.status_code == 200
    tabs = TABS.search(response.content.decode()).group(0)
    assert links_in(tabs, project) == SHOWN[role] - {"export_download", "train"}


def test_a_refused_page_explains_the_role_inside_the_site_layout(client, people):
    project = project_with(people, "Matrix")
    client.force_login(people[1][ANNOTATOR])
    response = client.get(reverse("project_settings", args=[project.pk]))
    assert response.status_code == 403
    assert "403.html" in [template.name for template in response.templates]
    html = response.content.decode()
    assert "Your role doesn't allow this" in html
    assert "This needs the project admin role in Matrix." in html
    assert 'class="topbar"' in html and 'aria-label="Main"' in html  # base.html, signed in
    assert f'href="{reverse("home")}"' in html


def test_a_missing_project_gets_the_studio_404_page(client, people, settings):
    settings.DEBUG = False  # with DEBUG on, Django shows its technical 404 instead
    settings.ALLOWED_HOSTS = ["testserver"]
    client.force_login(people[1][ANNOTATOR])
    response = client.get(reverse("project_documents", args=[999_999]))
    assert response.status_code == 404
    assert "404.html" in [template.name for template in response.templates]
    html = response.content.decode()
    assert "No such page or project" in html
    assert 'class="topbar"' in html
    assert f'href="{reverse("home")}"' in html


def test_another_teams_project_looks_missing_too(client, people, settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    project = project_with(people, "Secret")
    outsider = person("outsider")
    client.force_login(outsider)
    response = client.get(reverse("project_documents", args=[project.pk]))
    assert response.status_code == 404
    assert "No such page or project" in response.content.decode()
    assert "Secret" not in response.content.decode()


def test_the_500_page_renders_without_a_request():
    html = render_to_string("500.html")
    assert "Something went wrong" in html
    assert 'href="/static/css/studio.css"' in html
    assert "{%" not in html and "{{" not in html


def test_the_500_handler_uses_the_studio_page():
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
