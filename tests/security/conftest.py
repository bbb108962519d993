from tests.studio.test_permissions import world  # noqa: F401  (the fixture: a project with one of everything)
