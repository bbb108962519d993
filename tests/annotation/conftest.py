import pytest

from annotation.services import create_project


@pytest.fixture
def user(django_user_model):
    """A clinician who owns the `project`."""
    return django_user_model.objects.create_user("clinician", password="x")


@pytest.fixture
def project(user):
    return create_project("Oncology", created_by=user)
