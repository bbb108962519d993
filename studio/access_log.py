"""Who read which documents: the append-only access log, its staff page's filters and its CSV.

Reading endpoints call `record` once per request: one INSERT of ids and names they already
hold, no query of their own, committed without waiting for the disk (bench/access_log.py
measures what it adds to a page view)."""

import csv
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from studio.audit import record as audit
from studio.models import AccessEntry

Action, Via = AccessEntry.Action, AccessEntry.Via
COLUMNS = [field for field in AccessEntry._meta.concrete_fields if not field.primary_key]
# One statement, its own transaction, and a commit that does not wait for the disk: a flushed
# commit costs 3 to 5 ms, and each extra round trip about 1 ms on a busy machine, most of a
# page view's budget. A database crash can lose the last fraction of a second of entries,
# never leave half of one.
UNFLUSHED_INSERT = (
    "INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING set_config('synchronous_commit', 'off', true)".format(
        table=AccessEntry._meta.db_table,
        columns=", ".join(field.column for field in COLUMNS),
        values=", ".join(["%s"] * len(COLUMNS)),
    )
)
CSV_HEADER = ["when", "who", "action", "via", "project id", "project", "document ids", "document", "detail"]


def record(actor, action: str, *, via: str, project, documents=(), detail: str = "") -> None:
    """One read by `actor` (a user; a name, for someone outside the studio such as the account
    that runs a command; None for the system) of `documents` (objects with a pk, or ids) of
    `project` (an object with pk and name)."""
    documents = list(documents)
    ids = [getattr(document, "pk", document) for document in documents]
    single = documents[0] if len(documents) == 1 else None
    entry = AccessEntry(
        actor_id=getattr(actor, "pk", None),
        actor_name=actor.get_username() if hasattr(actor, "get_username") else (actor or "")[:150],
        action=action,
        via=via,
        project_id=getattr(project, "pk", None),
        project_name=getattr(project, "name", "")[:200],
        document_ids=ids,
        # The title only: a name made of the text's first words would outlive its deletion.
        document_name=getattr(single, "title", "")[:500],
        detail=detail[:200],
    )
    if connection.in_atomic_block:  # it commits with the work it belongs to
        entry.save(force_insert=True)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            UNFLUSHED_INSERT, [field.get_db_prep_save(getattr(entry, field.attname), connection) for field in COLUMNS]
        )


class FilterProblem(ValueError):
    """A filter the page cannot apply, with what is wrong in words."""


def entries(*, user: str = "", document: str = "", since: str = "", until: str = "") -> QuerySet[AccessEntry]:
    """The log, newest first, narrowed by a user name, a document id and a date range (days, both
    included); FilterProblem names a filter that is not a number or a date."""
    found = AccessEntry.objects.all()
    if user:
        found = found.filter(actor_name__iexact=user)
    if document:
        if not (document.isascii() and document.isdigit() and len(document) < 19):
            raise FilterProblem(f"Document must be a document id (a whole number), not “{document[:40]}”.")
        found = found.filter(document_ids__contains=[int(document)])
    if since:
        found = found.filter(at__gte=_day_start(since, "From"))
    if until:
        found = found.filter(at__lt=_day_start(until, "To") + timedelta(days=1))
    return found


def _day_start(value: str, field: str) -> datetime:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise FilterProblem(f"{field} must be a date such as 2026-01-31, not “{value[:40]}”.") from None
    return timezone.make_aware(datetime.combine(day, time.min))


class _Echo:
    """csv.writer's file: hands each line back instead of keeping it."""

    def write(self, line):
        return line


def csv_lines(found: QuerySet[AccessEntry]):
    """The rows as CSV lines, read from the database in chunks so a long log streams."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for entry in found.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                entry.at.isoformat(),
                entry.actor_name,
                entry.action,
                entry.via,
                entry.project_id or "",
                entry.project_name,
                " ".join(map(str, entry.document_ids)),
                entry.document_name,
                entry.detail,
            ]
        )


def purge_older_than(cutoff: datetime) -> int:
    """Delete the entries made before `cutoff`, the one delete the log allows, and record in
    the audit log how many went."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL studio.access_purge = 'on'")
        removed, _ = AccessEntry.objects.filter(at__lt=cutoff).delete()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL studio.access_purge = 'off'")
        if removed:
            audit(None, "access_log.purge", after={"entries": removed, "before": cutoff.isoformat()})
    return removed
