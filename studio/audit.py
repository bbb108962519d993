"""Writing to the append-only audit log. Services call `record` inside their transaction, so
an entry exists exactly when its change does."""

from studio.models import AuditEntry


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
    text = span.annotation.document.text[span.start : span.end]
    return {"start": span.start, "end": span.end, "label": span.label.name, "source": span.source, "text": text[:80]}


def describe(value) -> str:
    """An entry's before or after value, as a person reads it on the history page."""
    if value is None or value == "":
        return ""
    if isinstance(value, dict) and {"start", "end", "label"} <= value.keys():
        quoted = f" “{value['text']}”" if value.get("text") else ""
        return f"{value['label']}{quoted} ({value['start']}–{value['end']})"
    if isinstance(value, dict):
        return "; ".join(f"{key.replace('_', ' ')}: {_plain(item)}" for key, item in value.items())
    if isinstance(value, list) and all(isinstance(row, list) for row in value):
        return f"{len(value)} span{'s' if len(value) != 1 else ''}"
    return _plain(value)


def _plain(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(_plain, value)) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_plain(item)}" for key, item in value.items())
    return str(value)
