"""The API's JSON parser and renderer, apart from `studio.api`: that imports DRF's views,
which read the renderer setting, which names these classes."""

from django.conf import settings
from rest_framework import exceptions, parsers, renderers

from studio import safe_json


class JSONRenderer(renderers.JSONRenderer):
    """DRF's renderer. An error message can quote a client's input, lone surrogates and all;
    escaped to ASCII, such an answer is still valid JSON rather than a failed encode."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            self.ensure_ascii = True
            return super().render(data, accepted_media_type, renderer_context)


class JSONParser(parsers.JSONParser):
    """DRF's parser, with `safe_json`'s limits: deep nesting and huge integers are a 400
    before any view sees the body. What PostgreSQL refuses inside strings and numbers is for
    the fields, whose errors name the document and field (`check_storable`)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return safe_json.loads(stream.read().decode(encoding))
        except UnicodeDecodeError as error:
            raise exceptions.ParseError(f"The body is not {encoding} text: {error.reason}.") from None
        except safe_json.UnsafeJSON as error:
            raise exceptions.ParseError(f"{str(error)[:1].upper()}{str(error)[1:]}.") from None
