"""The API's request and response shapes for projects, labels, documents and annotations."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotation.models import Annotation, Document, Label, Project, Span
from annotation.review import ExportRule
from annotation.selectors import NOT_STARTED
from annotation.services import PROJECT_NAME_TAKEN, PROJECT_SETTINGS
from annotation.text.formats.detect import EXPORT_FORMATS
from annotation.text.formats.documents import MAX_CHARACTERS
from annotation.text.redact import MODES
from studio.api import check_storable


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in the project.")
    suggestion_threshold = serializers.FloatField(min_value=0, max_value=1, required=False)
    target_precision = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text=Project._meta.get_field("target_precision").help_text
    )

    class Meta:
        model = Project
        fields = ["id", *PROJECT_SETTINGS, "role", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def get_role(self, project) -> str:
        return getattr(project, "role", "") or ""


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    guidelines = serializers.CharField(required=False, allow_blank=True, default="", help_text="Markdown.")

    def validate_name(self, name):
        name = name.strip()
        if Project.objects.filter(name=name).exists():
            raise serializers.ValidationError(PROJECT_NAME_TAKEN)
        return name


class ProjectUpdateSerializer(ProjectSerializer):
    class Meta(ProjectSerializer.Meta):
        fields = PROJECT_SETTINGS


class LabelSerializer(serializers.ModelSerializer):
    span_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Label
        fields = ["id", "name", "color", "hotkey", "identifying", "span_count"]


class LabelWriteSerializer(serializers.Serializer):
    """Typed input; the label form then applies the same rules as the settings page."""

    name = serializers.RegexField(
        r"^[A-Za-z0-9_]+$",
        max_length=50,
        help_text="Letters, digits and underscores; stored upper case.",
        error_messages={"invalid": "Use letters, digits and underscores only, e.g. DISEASE."},
    )
    color = serializers.RegexField(
        r"^#[0-9a-fA-F]{6}$", help_text="Like #e4572e.", error_messages={"invalid": "Use a colour like #e4572e."}
    )
    hotkey = serializers.CharField(max_length=1, required=False, allow_blank=True, default="")
    identifying = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Its text identifies a person: masked for annotators unless the project allows them, and "
        "replaced by exports that redact.",
    )


class SpanInSerializer(serializers.Serializer):
    start = serializers.IntegerField(min_value=0, help_text="Character offset where the span starts.")
    end = serializers.IntegerField(min_value=1, help_text="Character offset just after the span.")
    label = serializers.CharField(max_length=50, help_text="A label name of the project.")


class DocumentInSerializer(serializers.Serializer):
    text = serializers.CharField(trim_whitespace=False)
    title = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    external_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    metadata = serializers.DictField(required=False, default=dict)
    spans = SpanInSerializer(many=True, required=False, default=list, help_text="Annotations to import with it.")

    def validate_text(self, text):
        if not text.strip():
            raise serializers.ValidationError("The text is blank.")
        if len(text) > MAX_CHARACTERS:
            raise serializers.ValidationError(
                f"The text has {len(text):,} characters; split it into documents of at most {MAX_CHARACTERS:,}."
            )
        return text

    def validate_metadata(self, metadata):
        return check_storable(metadata, "metadata")


class BulkDocumentsSerializer(serializers.Serializer):
    documents = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=settings.API_BULK_MAX_DOCUMENTS,
        help_text=f"Up to {settings.API_BULK_MAX_DOCUMENTS:,} documents; see DocumentIn for each.",
    )
    annotation_status = serializers.ChoiceField(
        choices=[Annotation.Status.SUBMITTED, Annotation.Status.IN_PROGRESS],
        default=Annotation.Status.SUBMITTED,
        help_text="Status of the annotations created from `spans`, which are yours.",
    )


class BulkRequestSchema(BulkDocumentsSerializer):
    """The documented form of the bulk request (each item is checked on its own for errors)."""

    documents = DocumentInSerializer(many=True)


class CreatedDocumentSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.IntegerField()
    created = serializers.BooleanField(help_text="False when the project already held this text.")


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates_skipped = serializers.IntegerField()
    spans_imported = serializers.IntegerField()
    documents = CreatedDocumentSerializer(many=True)


class DocumentSerializer(serializers.ModelSerializer):
    characters = serializers.SerializerMethodField()
    token_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Document
        fields = ["id", "title", "external_id", "metadata", "characters", "token_count", "is_dev", "created_at"]

    def get_characters(self, document) -> int:
        return len(document.text)


class DocumentDetailSerializer(DocumentSerializer):
    class Meta(DocumentSerializer.Meta):
        fields = DocumentSerializer.Meta.fields + ["text", "token_starts", "token_ends"]


DOCUMENT_STATUSES = [NOT_STARTED] + list(Annotation.Status.values)


class DocumentFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, max_length=500, help_text="Full-text search in title, id and text.")
    status = serializers.ChoiceField(choices=DOCUMENT_STATUSES, required=False)
    annotator = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, help_text="A user id.")
    external_id = serializers.CharField(required=False, max_length=200)
    has_suggestions = serializers.BooleanField(required=False, default=False)


class SpanSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="label.name")
    text = serializers.SerializerMethodField(help_text="The text the span covers.")

    class Meta:
        model = Span
        fields = ["id", "start", "end", "label", "text", "source", "model_version", "edited_before_accept"]

    def get_text(self, span) -> str:
        return self.context["text"][span.start : span.end]


def span_shapes(spans, text: str) -> list[dict]:
    """What `SpanSerializer` gives for `spans` (a queryset), read as plain rows: reading a
    document's spans is the API's most frequent call, and a serializer per span costs more
    than the query."""
    rows = spans.order_by("start").values_list(
        "id", "start", "end", "label__name", "source", "model_version_id", "edited_before_accept"
    )
    return [
        {
            "id": pk,
            "start": start,
            "end": end,
            "label": label,
            "text": text[start:end],
            "source": source,
            "model_version": model_version,
            "edited_before_accept": edited,
        }
        for pk, start, end, label, source, model_version, edited in rows
    ]


class AnnotationSerializer(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator.username")
    spans = serializers.SerializerMethodField()

    class Meta:
        model = Annotation
        fields = [
            "id",
            "document",
            "annotator",
            "is_gold",
            "status",
            "version",
            "created_at",
            "updated_at",
            "submitted_at",
            "spans",
        ]

    @extend_schema_field(SpanSerializer(many=True))
    def get_spans(self, annotation):
        return SpanSerializer(annotation.spans.all(), many=True, context={"text": annotation.document.text}).data


class AnnotationFilterSerializer(serializers.Serializer):
    document = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    annotator = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, help_text="A user id.")
    status = serializers.ChoiceField(choices=Annotation.Status.values, required=False)


class SpansReplaceSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="The version you last read.")
    spans = SpanInSerializer(many=True, max_length=10_000)


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="The version you last read.")


class ExportFilterSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=list(EXPORT_FORMATS))
    scope = serializers.ChoiceField(
        choices=["finished", "all"],
        default="finished",
        help_text="finished: submitted and reviewed annotations only; all: every document.",
    )
    rule = serializers.ChoiceField(
        choices=[kind for kind, _ in ExportRule.CHOICES],
        default=ExportRule.REVIEWED_ONLY,
        help_text=(
            "What a document whose annotators disagree and that nobody reviewed carries. reviewed: it is left out; "
            "annotator: the version of the person named in `annotator` (documents they did not annotate are left "
            "out); majority: the spans more than half of its annotators made. Reviewed documents carry their gold "
            "annotation and documents whose annotators agree their shared version, whatever the rule."
        ),
    )
    annotator = serializers.CharField(
        required=False, default="", max_length=150, help_text="A user name, with rule=annotator."
    )
    redact = serializers.ChoiceField(
        choices=list(MODES),
        required=False,
        default="",
        allow_blank=True,
        help_text="Hide the text of the labels in `redact_labels`: mask (each character becomes █, every offset "
        "kept) or tag (the span's text becomes [LABEL], later offsets shift). Unset: nothing is redacted.",
    )
    redact_labels = serializers.CharField(
        required=False,
        default="",
        max_length=2000,
        help_text="Comma-separated label names to redact, with `redact`; default: the project's identifying labels.",
    )
