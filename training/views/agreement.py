"""Inter-annotator agreement: pairwise figures and the disagreements to review."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotation.access import Role, project_for
from annotation.selectors import document_names, submitted_tags
from training.agreement import disagreements, pairwise


@require_GET
def page(request, project_id):
    project = project_for(request.user, project_id, Role.REVIEWER)
    labels = list(project.labels.values_list("name", flat=True))
    tags = submitted_tags(project)
    rows = disagreements(tags, labels)[:200]
    names = document_names(int(row["doc_id"]) for row in rows)
    for row in rows:
        row["name"] = names.get(int(row["doc_id"]), f"Document {row['doc_id']}")
    context = {
        "project": project,
        "labels": labels,
        "pairs": pairwise(tags, labels),
        "disagreements": rows,
    }
    return render(request, "training/agreement.html", context)
