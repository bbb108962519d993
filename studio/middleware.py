"""Input no view should have to think about."""

import time

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from studio.safe_json import string_problem


class RefuseNulMiddleware:
    """A NUL character in a query parameter or form field is a 400 naming the field: nobody
    types one, and PostgreSQL cannot store or even compare it.

    Reading a multipart body stores its files; one larger than any upload the studio takes
    is refused from its declared length first (413), before a byte of it is read.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.content_type == "multipart/form-data" and _declared_length(request) > _largest_upload():
            return _refuse(request, f"The request is over the {_largest_upload() // 1_000_000} MB limit.", 413)
        sources = [("query parameter", request.GET)]
        if request.method == "POST" and request.content_type in FORMS:
            sources.append(("form field", request.POST))
        for kind, values in sources:
            for name, value in values.lists():
                problem = next(filter(None, map(string_problem, [name, *value])), "")
                if problem:
                    return _refuse(request, f"The {kind} {name[:40]!r} {problem}.", 400)
        return self.get_response(request)


FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _largest_upload() -> int:
    # An upload's file plus the form around it.
    return settings.IMPORT_MAX_BYTES + 1_000_000


def _refuse(request, message: str, status: int) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class SlidingSessionMiddleware:
    """Keeps a signed-in session alive while it is used, as SESSION_SAVE_EVERY_REQUEST would,
    but writes it at most once every `REFRESH_SECONDS`: saving it on every request gave every
    edit a second transaction and commit of its own. The idle timeout is exact to that much."""

    REFRESH_SECONDS = 60
    KEY = "_refreshed_at"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.session_key and request.user.is_authenticated:
            now = int(time.time())
            if now - session.get(self.KEY, 0) >= self.REFRESH_SECONDS:
                session[self.KEY] = now  # modified: SessionMiddleware saves it with a new expiry
        return self.get_response(request)
