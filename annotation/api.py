"""API endpoints for projects, labels, documents, annotations and exports. Like the pages,
each gets its project through `project_for` and writes through the services."""

from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Prefetch, Subquery, Value
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import editing, selectors
from annotation import serializers as shapes
from annotation.access import (
    Role,
    check_creates_projects,
    document_for,
    project_for,
    uses_assignments,
    visible_projects,
)
from annotation.exports import export_redaction, export_rule, streamed_export
from annotation.forms import LabelForm
from annotation.masking import mask_for_visitor
from annotation.models import Annotation, Document, Label, Membership, Span
from annotation.services import (
    PROJECT_NAME_TAKEN,
    DocumentsRejected,
    LabelInUse,
    ProjectRefused,
    add_documents,
    create_project,
    delete_label,
    document_errors,
    labels_by_name,
    save_label,
    save_project_settings,
)
from annotation.text.formats.documents import ImportedDocument
from studio import access_log
from studio.api import Pagination, error_responses, page_of, paginated, query_filters


@extend_schema(tags=["projects"])
class ProjectList(APIView):
    @extend_schema(
        operation_id="projects_list",
        summary="Projects you belong to",
        responses={200: page_of(shapes.ProjectSerializer), **error_responses(400, 404)},
    )
    def get(self, request):
        projects = visible_projects(request.user)
        if not request.user.is_staff:
            mine = Membership.objects.filter(project=OuterRef("pk"), user=request.user).values("role")[:1]
            projects = projects.annotate(role=Subquery(mine))
        else:
            projects = projects.annotate(role=Value(Role.ADMIN))
        return paginated(self, request, projects.order_by("name"), shapes.ProjectSerializer)

    @extend_schema(
        operation_id="projects_create",
        summary="Create a project (with DISEASE and TREATMENT labels); you become its admin",
        description="Staff, and people a staff member has allowed to, create projects; others get 403.",
        request=shapes.ProjectCreateSerializer,
        responses={201: shapes.ProjectSerializer, **error_responses(400, 403)},
    )
    def post(self, request):
        check_creates_projects(request.user)
        payload = shapes.ProjectCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            project = create_project(**payload.validated_data, created_by=request.user)
        except IntegrityError:
            raise ValidationError({"name": [PROJECT_NAME_TAKEN]}) from None
        except ProjectRefused as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_403_FORBIDDEN)
        project.role = Role.ADMIN
        return Response(shapes.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["projects"])
class ProjectDetail(APIView):
    @extend_schema(
        operation_id="projects_retrieve",
        summary="One project",
        responses={200: shapes.ProjectSerializer, **error_responses(404)},
    )
    def get(self, request, project_id):
        return Response(shapes.ProjectSerializer(project_for(request.user, project_id)).data)

    @extend_schema(
        operation_id="projects_update",
        summary="Change a project's settings (project admins)",
        request=shapes.ProjectUpdateSerializer,
        responses={200: shapes.ProjectSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request, project_id):
        project = project_for(request.user, project_id, Role.ADMIN)
        payload = shapes.ProjectUpdateSerializer(project, data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        for name, value in payload.validated_data.items():
            setattr(project, name, value)
        try:
            save_project_settings(project, actor=request.user)
        except IntegrityError:
            raise ValidationError({"name": [PROJECT_NAME_TAKEN]}) from None
        return Response(shapes.ProjectSerializer(project).data)


def _label_form(request, project, label=None) -> Label:
    payload = shapes.LabelWriteSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    form = LabelForm(payload.validated_data, instance=label, project=project)
    if not form.is_valid():
        raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
    label = save_label(form.save(commit=False), actor=request.user)
    label.span_count = label.spans.count()
    return label


@extend_schema(tags=["labels"])
class LabelList(APIView):
    @extend_schema(
        operation_id="labels_list",
        summary="The project's labels",
        responses={200: page_of(shapes.LabelSerializer), **error_responses(400, 404)},
    )
    def get(self, request, project_id):
        project = project_for(request.user, project_id)
        labels = project.labels.annotate(span_count=Count("spans")).order_by("hotkey", "name")
        return paginated(self, request, labels, shapes.LabelSerializer)

    @extend_schema(
        operation_id="labels_create",
        summary="Add a label (project admins)",
        request=shapes.LabelWriteSerializer,
        responses={201: shapes.LabelSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request, project_id):
        project = project_for(request.user, project_id, Role.ADMIN)
        label = _label_form(request, project)
        return Response(shapes.LabelSerializer(label).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["labels"])
class LabelDetail(APIView):
    @extend_schema(
        operation_id="labels_update",
        summary="Rename or recolour a label (project admins)",
        request=shapes.LabelWriteSerializer,
        responses={200: shapes.LabelSerializer, **error_responses(400, 403, 404)},
    )
    def put(self, request, project_id, label_id):
        project = project_for(request.user, project_id, Role.ADMIN)
        label = _label_form(request, project, get_object_or_404(Label, pk=label_id, project=project))
        return Response(shapes.LabelSerializer(label).data)

    @extend_schema(
        operation_id="labels_destroy",
        summary="Delete a label no span uses (project admins)",
        responses={204: None, **error_responses(403, 404, 409)},
    )
    def delete(self, request, project_id, label_id):
        project = project_for(request.user, project_id, Role.ADMIN)
        try:
            delete_label(get_object_or_404(Label, pk=label_id, project=project), actor=request.user)
        except LabelInUse as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["documents"])
class DocumentList(APIView):
    @extend_schema(
        operation_id="documents_list",
        summary="Documents, filtered",
        parameters=[shapes.DocumentFilterSerializer],
        responses={200: page_of(shapes.DocumentSerializer), **error_responses(400, 404)},
    )
    def get(self, request, project_id):
        project = project_for(request.user, project_id)
        chosen = query_filters(request, shapes.DocumentFilterSerializer)
        ids = selectors.document_ids(
            project,
            query=chosen.get("q", ""),
            status=chosen.get("status", ""),
            annotator_id=chosen.get("annotator"),
            has_suggestions=chosen["has_suggestions"],
            external_id=chosen.get("external_id", ""),
            assigned_to=request.user if uses_assignments(project, request.user) else None,
            # As on the page: an annotator's statuses are their own, and others' are not theirs to see.
            own=request.user if project.role == Role.ANNOTATOR else None,
            viewer=request.user,
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(ids, request, view=self)
        documents = Document.objects.filter(pk__in=page).defer("search").order_by("id")
        return paginator.get_paginated_response(shapes.DocumentSerializer(documents, many=True).data)

    @extend_schema(
        operation_id="documents_bulk_create",
        summary="Add up to 1,000 documents, all or none",
        description=(
            "Each document may carry spans (character offsets and a label name), stored as your "
            "annotation. A text the project holds already is not stored again (`created: false`), "
            "and the spans sent with it are not imported. "
            "If any document is invalid, nothing is stored and `items` lists every problem."
        ),
        request=shapes.BulkRequestSchema,
        responses={201: shapes.BulkResultSerializer, **error_responses(400, 403, 404, 413)},
    )
    def post(self, request, project_id):
        project = project_for(request.user, project_id, Role.ADMIN)
        payload = shapes.BulkDocumentsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        items = payload.validated_data["documents"]
        documents, item_errors = _bulk_documents(project, items)
        if not item_errors:
            try:
                summary, added = add_documents(
                    project,
                    documents,
                    user=request.user,
                    annotation_status=payload.validated_data["annotation_status"],
                )
            except DocumentsRejected as rejected:
                item_errors = rejected.errors
        if item_errors:
            return Response(
                {
                    "detail": f"{len(item_errors)} of {len(items)} documents are invalid; none was stored.",
                    "items": [{"index": index, "errors": errors} for index, errors in sorted(item_errors.items())],
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        result = {
            "created": summary.documents_created,
            "duplicates_skipped": summary.duplicates_skipped,
            "spans_imported": summary.mentions_imported,
            "documents": [{"index": i, "id": a.id, "created": a.created} for i, a in enumerate(added)],
        }
        return Response(result, status=status.HTTP_201_CREATED)


def _bulk_documents(project, items: list[dict]) -> tuple[list[ImportedDocument], dict[int, dict]]:
    """The request's documents, and the problems of each invalid one by its position. When
    some fail their field checks, the others get the storing checks too, so one answer lists
    every problem; otherwise `add_documents` makes those checks itself."""
    documents, positions, item_errors = [], [], {}
    for index, item in enumerate(items):
        document = shapes.DocumentInSerializer(data=item)
        if not document.is_valid():
            item_errors[index] = document.errors
            continue
        fields = document.validated_data
        documents.append(
            ImportedDocument(
                text=fields["text"],
                title=fields["title"],
                external_id=fields["external_id"],
                metadata=fields["metadata"],
                mentions=[(span["start"], span["end"], span["label"]) for span in fields["spans"]],
            )
        )
        positions.append(index)
    if item_errors:
        for position, errors in document_errors(project, documents).items():
            item_errors[positions[position]] = errors
    return documents, item_errors


@extend_schema(tags=["documents"])
class DocumentDetail(APIView):
    @extend_schema(
        operation_id="documents_retrieve",
        summary="One document, with its text and tokens",
        responses={200: shapes.DocumentDetailSerializer, **error_responses(404)},
    )
    def get(self, request, project_id, document_id):
        document = _document(request, project_id, document_id)
        _opened(request, document.project, [document])
        return Response(shapes.DocumentDetailSerializer(document).data)


def _document(request, project_id, document_id) -> Document:
    return document_for(project_for(request.user, project_id), document_id, Document.objects.defer("search"))


def _opened(request, project, documents, detail=""):
    access_log.record(
        request.user,
        access_log.Action.OPEN,
        via=access_log.Via.API,
        project=project,
        documents=documents,
        detail=detail,
    )


def _with_spans(annotations):
    return annotations.select_related("annotator", "document").prefetch_related(
        Prefetch("spans", queryset=Span.objects.select_related("label").order_by("start"))
    )


@extend_schema(tags=["annotations"])
class AnnotationList(APIView):
    @extend_schema(
        operation_id="annotations_list",
        summary="Annotations with their spans: your own, or everyone's for reviewers and admins",
        parameters=[shapes.AnnotationFilterSerializer],
        responses={200: page_of(shapes.AnnotationSerializer), **error_responses(400, 404)},
    )
    def get(self, request, project_id):
        project = project_for(request.user, project_id)
        chosen = query_filters(request, shapes.AnnotationFilterSerializer)
        annotations = Annotation.objects.filter(document__project=project)
        if project.role == Role.ANNOTATOR:
            annotations = annotations.filter(annotator=request.user)
        for field in ("document", "status"):
            if field in chosen:
                annotations = annotations.filter(**{field: chosen[field]})
        if "annotator" in chosen:
            annotations = annotations.filter(annotator_id=chosen["annotator"])

        def masked_and_logged(page):
            mask_for_visitor(project, [annotation.document for annotation in page])
            _opened(request, project, dict.fromkeys(a.document_id for a in page), detail="annotations")

        return paginated(
            self,
            request,
            _with_spans(annotations).order_by("id"),
            shapes.AnnotationSerializer,
            before=masked_and_logged,
        )


class EditState(serializers.Serializer):
    version = serializers.IntegerField(help_text="Send this back with your next change.")
    status = serializers.CharField()
    message = serializers.CharField()
    spans = shapes.SpanSerializer(many=True)


def _edit_state(annotation: Annotation, document: Document, message: str = "") -> dict:
    """`document` from `_document`: its text is what the visitor may read."""
    return {
        "version": annotation.version,
        "status": annotation.status,
        "message": message,
        "spans": shapes.span_shapes(Span.objects.filter(annotation=annotation), document.text),
    }


def _run_edit(request, project_id, document_id, payload_class, change):
    document = _document(request, project_id, document_id)
    payload = payload_class(data=request.data)
    payload.is_valid(raise_exception=True)
    try:
        with transaction.atomic():  # a refused first edit leaves no empty annotation behind
            annotation = editing.annotation_for(document, request.user)
            result = change(annotation, payload.validated_data)
    except editing.VersionConflict as conflict:
        return Response(
            {
                "detail": f"The annotation changed elsewhere: it is at version {conflict.current_version} now. "
                "Read it again and reapply your change.",
                "current_version": conflict.current_version,
            },
            status=status.HTTP_409_CONFLICT,
        )
    except editing.EditRejected as rejected:
        raise ValidationError({"detail": str(rejected)}) from None
    return Response(_edit_state(result.annotation, document, result.message))


EDIT_ERRORS = error_responses(400, 404, 409)


@extend_schema(tags=["annotations"])
class Spans(APIView):
    @extend_schema(
        operation_id="spans_retrieve",
        summary="Your spans on a document, with the version to edit them",
        responses={200: EditState, **error_responses(404)},
    )
    def get(self, request, project_id, document_id):
        document = _document(request, project_id, document_id)
        _opened(request, document.project, [document], detail="spans")
        annotation = editing.own_annotation(document, request.user)
        if annotation is None:
            return Response({"version": 1, "status": selectors.NOT_STARTED, "message": "", "spans": []})
        return Response(_edit_state(annotation, document))

    @extend_schema(
        operation_id="spans_replace",
        summary="Replace all your spans on a document",
        description=(
            "Send the version you last read. If the annotation changed since, the answer is 409 "
            "with `current_version`, and nothing changes. Span edges must be token edges "
            "(see the document's `token_starts` and `token_ends`). The change can be undone on the page."
        ),
        request=shapes.SpansReplaceSerializer,
        responses={200: EditState, **EDIT_ERRORS},
    )
    def put(self, request, project_id, document_id):
        def replace(annotation, data):
            labels = labels_by_name(annotation.document.project)
            unknown = sorted({s["label"] for s in data["spans"] if s["label"].upper() not in labels})
            if unknown:
                raise editing.EditRejected(
                    f"Unknown label {', '.join(unknown)}; the project's labels are "
                    f"{', '.join(label.name for label in labels.values())}."
                )
            spans = [(s["start"], s["end"], labels[s["label"].upper()]) for s in data["spans"]]
            return editing.replace_spans(annotation, version=data["version"], spans=spans)

        return _run_edit(request, project_id, document_id, shapes.SpansReplaceSerializer, replace)


@extend_schema(tags=["annotations"])
class Submit(APIView):
    @extend_schema(
        operation_id="annotations_submit",
        summary="Submit your annotation of a document",
        request=shapes.VersionSerializer,
        responses={200: EditState, **EDIT_ERRORS},
    )
    def post(self, request, project_id, document_id):
        return _run_edit(
            request,
            project_id,
            document_id,
            shapes.VersionSerializer,
            lambda annotation, data: editing.submit(annotation, version=data["version"]),
        )


@extend_schema(tags=["export"])
class Export(APIView):
    @extend_schema(
        operation_id="export",
        summary="Export the project's documents and annotations, streamed (reviewers and admins)",
        parameters=[shapes.ExportFilterSerializer],
        responses={
            (200, "application/jsonl"): OpenApiResponse(OpenApiTypes.STR, description="doccano JSONL"),
            (200, "application/json"): OpenApiResponse(OpenApiTypes.ANY, description="Label Studio JSON"),
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="CoNLL or PubTator"),
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="a Hugging Face dataset or WebAnno TSV files"
            ),
            **error_responses(400, 403, 404),
        },
    )
    def get(self, request, project_id):
        project = project_for(request.user, project_id, Role.REVIEWER)
        chosen = query_filters(request, shapes.ExportFilterSerializer, paged=False)
        try:
            rule = export_rule(project, chosen["rule"], chosen["annotator"])
        except ValueError as problem:
            raise ValidationError({"annotator": [str(problem)]}) from None
        names = [name.strip() for name in chosen["redact_labels"].split(",") if name.strip()]
        try:
            redaction = export_redaction(project, chosen["redact"], names)
        except ValueError as problem:
            raise ValidationError({"redact": [str(problem)]}) from None
        return streamed_export(
            project, chosen["format"], chosen["scope"], rule, redaction, reader=request.user, via=access_log.Via.API
        )
