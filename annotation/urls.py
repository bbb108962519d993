from django.urls import path

from annotation.views import deletion, exports, history, imports, labelling, labels, members, projects, review

urlpatterns = [
    path("", projects.project_list, name="home"),
    path("projects/new/", projects.project_create, name="project_create"),
    path("projects/<int:project_id>/", projects.project_documents, name="project_documents"),
    path("projects/<int:project_id>/status/", projects.status_summary, name="status_summary"),
    path("projects/<int:project_id>/settings/", projects.project_settings, name="project_settings"),
    path("projects/<int:project_id>/delete/", deletion.project_delete, name="project_delete"),
    path("projects/<int:project_id>/labels/", labels.label_save, name="label_create"),
    path("projects/<int:project_id>/labels/<int:label_id>/", labels.label_save, name="label_update"),
    path("projects/<int:project_id>/labels/<int:label_id>/delete/", labels.label_delete, name="label_delete"),
    path("projects/<int:project_id>/audit/", history.audit_log, name="audit_log"),
    path("projects/<int:project_id>/members/", members.member_save, name="member_save"),
    path("projects/<int:project_id>/members/<int:membership_id>/remove/", members.member_remove, name="member_remove"),
    path("projects/<int:project_id>/import/", imports.import_upload, name="import_upload"),
    path("projects/<int:project_id>/imports/<int:job_id>/", imports.import_job, name="import_job"),
    path("projects/<int:project_id>/imports/<int:job_id>/progress/", imports.import_progress, name="import_progress"),
    path("projects/<int:project_id>/imports/<int:job_id>/retry/", imports.import_retry, name="import_retry"),
    path("projects/<int:project_id>/imports/<int:job_id>/split/", imports.import_split, name="import_split"),
    path("projects/<int:project_id>/export/", exports.export_download, name="export_download"),
    path("projects/<int:project_id>/export/rule/", exports.export_rule, name="export_rule"),
    path("projects/<int:project_id>/annotate/", labelling.start, name="annotate_start"),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/delete/",
        deletion.document_delete,
        name="document_delete",
    ),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/next/",
        labelling.neighbour,
        {"direction": "next"},
        name="annotate_next",
    ),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/previous/",
        labelling.neighbour,
        {"direction": "previous"},
        name="annotate_previous",
    ),
    path("projects/<int:project_id>/documents/<int:document_id>/review/", review.review, name="review"),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/review/next/",
        review.next_disagreement,
        name="review_next",
    ),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/review/start/",
        review.review_action,
        {"action": "start"},
        name="review_start",
    ),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/review/take/",
        review.review_action,
        {"action": "take"},
        name="review_take",
    ),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/review/drop/",
        review.review_action,
        {"action": "drop"},
        name="review_drop",
    ),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/review/done/",
        review.review_action,
        {"action": "reviewed"},
        name="review_done",
    ),
    path(
        "projects/<int:project_id>/documents/<int:document_id>/split/",
        labelling.evaluation_split,
        name="evaluation_split",
    ),
]

# The labelling page and its edits, for one's own version and, under gold/, for a reviewer
# editing the document's gold annotation.
EDITOR = [
    ("", labelling.annotate, "annotate"),
    ("spans/", labelling.span_add, "span_add"),
    ("spans/<int:span_id>/label/", labelling.span_relabel, "span_relabel"),
    ("spans/<int:span_id>/delete/", labelling.span_delete, "span_delete"),
    ("undo/", labelling.undo, "annotation_undo"),
    ("redo/", labelling.redo, "annotation_redo"),
    ("submit/", labelling.submit, "annotation_submit"),
]
DOCUMENT = "projects/<int:project_id>/documents/<int:document_id>/"
urlpatterns += [path(DOCUMENT + route, view, name=name) for route, view, name in EDITOR]
urlpatterns += [
    path(DOCUMENT + "gold/" + route, view, {"gold": True}, name="gold_" + name) for route, view, name in EDITOR
]
