"""Inter-annotator agreement: pairwise figures and the disagreements still to review (a
reviewed document leaves the list)."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotation.access import Role, project_for
from annotation.review import unresolved_disagreements
from annotation.selectors import document_names, submitted_tags
from training.agreement import disagreements, pairwise


@require_GET
def page(request, project_id):
    project = project_for(request.user, project_id, Role.REVIEWER)
    labels = list(project.labels.values_list("name", flat=True))
    tags = submitted_tags(project)
    unresolved = {str(pk) for pk in unresolved_disagreements(project).values_list("pk", flat=True)}
    rows = [row for row in disagreements(tags, labels) if row["doc_id"] in unresolved][:200]
    names = document_names(int(row["doc_id"]) for row in rows)
    for row in rows:
        row["name"] = names.get(int(row["doc_id"]), f"Document {row['doc_id']}")
    context = {
        "project": project,
        "labels": labels,
        "pairs": pairwise(tags, labels),
        "disagreements": rows,
        "unresolved": len(unresolved),
    }
    return render(request, "training/agreement.html", context)
