"""A project's audit log: every change, who made it, filterable."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotation.access import Role, project_for
from studio import access_log
from studio.audit import describe
from studio.models import AuditEntry

AUDIT_PER_PAGE = 100


@require_GET
def audit_log(request, project_id):
    project = project_for(request.user, project_id, Role.REVIEWER)
    entries = AuditEntry.objects.filter(project_id=project.pk)
    actions = sorted(set(entries.values_list("action", flat=True)))
    chosen = {key: request.GET.get(key, "").strip() for key in ("action", "actor", "document")}
    if chosen["action"]:
        entries = entries.filter(action=chosen["action"])
    if chosen["actor"]:
        entries = entries.filter(actor_name=chosen["actor"])
    if chosen["document"].isdigit() and len(chosen["document"]) < 19:  # a bigint
        entries = entries.filter(document_id=int(chosen["document"]))
    page = Paginator(entries, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    quoted = sorted({entry.document_id for entry in page.object_list if entry.document_id})
    if quoted:  # span entries quote the words they marked
        access_log.record(
            request.user,
            access_log.Action.OPEN,
            via=access_log.Via.PAGE,
            project=project,
            documents=quoted,
            detail="change history",
        )
    for entry in page.object_list:
        entry.before_text, entry.after_text = describe(entry.before), describe(entry.after)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"project": project, "page": page, "actions": actions, "chosen": chosen, "query": query.urlencode()}
    return render(request, "annotation/audit_log.html", context)
