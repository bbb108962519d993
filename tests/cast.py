"""The people of the test suite, in one place (as healthchecks keeps its cast in one base
class): a fixture for each regular, and `person()` for anyone a test needs by another name.
Everyone's password is PASSWORD unless a test chooses one."""

import pytest
from django.contrib.auth import get_user_model

PASSWORD = "x"


def person(name: str, *, password: str = PASSWORD, superuser: bool = False, **fields):
    users = get_user_model().objects
    if superuser:
        return users.create_superuser(name, password=password, **fields)
    return users.create_user(name, password=password, **fields)


def team(project) -> dict:
    """One member of `project` per role (named after it), plus an outsider and a staff member."""
    from annotation.models import Membership

    people = {"outsider": person("outsider"), "staff": person("staff", is_staff=True)}
    for role in Membership.Role.values:
        people[role] = person(role)
        Membership.objects.create(project=project, user=people[role], role=role)
    return people


@pytest.fixture
def admin(db):
    """A superuser."""
    return person("admin", superuser=True)


@pytest.fixture
def clinician(db):
    """A clinician with no special rights; owns the projects the annotation tests make."""
    return person("clinician", email="c@example.org")


@pytest.fixture
def nurse(db):
    """A colleague of the clinician's."""
    return person("nurse", email="nurse@example.org")


@pytest.fixture
def staff(db):
    return person("staff", is_staff=True)
