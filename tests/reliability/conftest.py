import pytest

from tests.faults import embedded_pgdata, reconnect
from tests.training.conftest import tiny_bert  # noqa: F401  (fixtures, for these tests too)
from tests.training.test_runs import tiny_settings  # noqa: F401

TIMEOUT = 3  # seconds without a heartbeat before work counts as dead


@pytest.fixture
def fast_heartbeat(settings):
    """Work beats every second and is dead after TIMEOUT s of silence, here and in consumers."""
    settings.HEARTBEAT_SECONDS, settings.HEARTBEAT_TIMEOUT = 1, TIMEOUT
    return {"HEARTBEAT_SECONDS": "1", "HEARTBEAT_TIMEOUT": str(TIMEOUT)}


@pytest.fixture
def pgdata(transactional_db):
    """The embedded server's data directory; this process reconnects after each test's faults."""
    yield embedded_pgdata()
    reconnect()


@pytest.fixture
def api_client_of():
    """A client for the API with a user's personal token, that returns 5xx answers rather than
    raising the error behind them, as a real client sees them."""
    from django.test import Client

    from studio.tokens import create_token

    def client_for(user):
        _token, key = create_token(user, "reliability")
        return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {key}")

    return client_for
