import pytest

from annotation.services import create_project


@pytest.fixture
def user(clinician):
    """The clinician who owns the `project`."""
    return clinician


@pytest.fixture
def project(user):
    return create_project("Oncology", created_by=user)
