"""While PostgreSQL is unreachable (restarting, failing over), answer 503 with Retry-After
rather than 500: JSON for the API, the styled page for people, so clients know to retry."""

import sys

from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

from studio.background import DISCONNECTS

RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is unavailable right now; try again in a few seconds."


def outage_response(request) -> HttpResponse:
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": MESSAGE}, status=503)
    else:
        # A static page: rendering must not need the database it says is gone.
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseOutageMiddleware:
    """Views (and DRF's, whose handler passes these errors on) that lose the database."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return outage_response(request) if isinstance(exception, DISCONNECTS) else None


def server_error(request):
    """handler500: middleware that loses the database (the session, the user) lands here."""
    if isinstance(sys.exc_info()[1], DISCONNECTS):
        return outage_response(request)
    return defaults.server_error(request)
