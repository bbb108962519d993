"""Writing to the append-only audit log. Services call `record` inside their transaction, so
an entry exists exactly when its change does."""

from annotation.models import AuditEntry


def record(actor, action: str, *, project_id=None, document_id=None, obj=None, before=None, after=None):
    AuditEntry.objects.create(
        actor_id=getattr(actor, "pk", None),
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        project_id=project_id,
        document_id=document_id,
        object_type=type(obj).__name__.lower() if obj is not None else "",
        object_id=getattr(obj, "pk", None),
        before=before,
        after=after,
    )


def span_values(span) -> dict:
    return {"start": span.start, "end": span.end, "label": span.label.name, "source": span.source}
