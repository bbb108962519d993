"""What every API endpoint shares: pagination, one error shape, and documented error responses."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from studio import safe_json


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError({"page_size": [f"Use a whole number from 1 to {self.max_page_size}."]})
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


def paginated(view, request, rows, serializer_class, *, before=None, **kwargs):
    """One page of `rows`, serialised; `before`, if given, sees the page's rows first."""
    paginator = Pagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    if before is not None:
        before(page)
    return paginator.get_paginated_response(serializer_class(page, many=True, **kwargs).data)


def query_filters(request, serializer_class, *, paged=True) -> dict:
    """The query string, checked against an allow-list of typed filters."""
    allowed = set(serializer_class().fields) | ({"page", "page_size"} if paged else set())
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise exceptions.ValidationError(
            {name: [f"Unknown filter; use {', '.join(sorted(allowed))}."] for name in unknown}
        )
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def page_of(serializer_class):
    """The documented shape of a paginated list of `serializer_class`."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return inline_serializer(
        name=f"Paginated{name}List",
        fields={
            "count": serializers.IntegerField(help_text="All matching items, on every page."),
            "next": serializers.URLField(allow_null=True, help_text="The next page, if any."),
            "previous": serializers.URLField(allow_null=True, help_text="The previous page, if any."),
            "results": serializer_class(many=True),
        },
    )


class ItemErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request, from 0.")
    errors = serializers.DictField(help_text="Field name -> messages.")


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in one sentence.")
    errors = serializers.DictField(required=False, help_text="Field name -> messages, for invalid input.")
    items = ItemErrorSerializer(many=True, required=False, help_text="Per-item errors of a bulk request.")
    current_version = serializers.IntegerField(
        required=False, help_text="On a version conflict: the annotation's version now."
    )


ERROR_MEANINGS = {
    400: "The request is invalid; `detail` says why and `errors` names the fields.",
    401: "No valid token or session.",
    403: "Your role in this project does not allow this.",
    404: "No such object in a project you belong to, or no such page.",
    409: "Conflicts with the current state; `detail` says which.",
    413: "The request body is too large.",
    429: "Too many requests; wait as long as `Retry-After` says.",
}


def error_responses(*codes: int) -> dict:
    """OpenAPI responses for the errors an endpoint can answer with; 401 and 429 always apply."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[code]) for code in sorted({401, 429, *codes})
    }


def exception_handler(exc, context):
    """Every error is {"detail": ...}; invalid input adds `errors`, so clients parse one shape."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1_000_000
        return Response(
            {"detail": f"The request body is over the {limit:g} MB limit; send fewer documents per request."},
            status=413,
        )
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.ValidationError):
        return response
    errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
    data = {"detail": errors.pop("detail", None) or _first_message(errors) or "Invalid input."}
    if errors:
        data["errors"] = errors
    response.data = data
    return response


def _first_message(errors) -> str:
    for field, messages in errors.items():
        while isinstance(messages, (list, dict)) and messages:
            messages = messages[0] if isinstance(messages, list) else next(iter(messages.values()))
        if messages:
            return f"{field}: {messages}" if field != "non_field_errors" else str(messages)
    return ""


def endpoint(view_class, **initkwargs):
    """An API view for the URL conf: DRF authenticates it (token or session), so the site's
    log-in redirect must not run first."""
    return login_not_required(view_class.as_view(**initkwargs))


def check_storable(value, path: str = "value"):
    """Refuse, naming the place, what PostgreSQL text and JSONB cannot store."""
    problem = safe_json.first_problem(value, path)
    if problem:
        raise serializers.ValidationError(problem + ".")
    return value
