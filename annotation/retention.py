"""The retention period (`RETENTION_DAYS`): every night the worker purges upload files, access
log entries and finished imports' files older than it, and the audit log says how many went."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from annotation.imports import purge_uploads
from studio import access_log
from studio.audit import record


def purge_expired(now=None) -> dict[str, int]:
    """What the retention period removed, by kind; nothing when no period is set."""
    days = settings.RETENTION_DAYS
    if not days:
        return {}
    cutoff = (now or timezone.now()) - timedelta(days=days)
    purged = {**purge_uploads(cutoff), "access log entries": access_log.purge_older_than(cutoff)}
    if any(purged.values()):
        record(None, "retention.purge", after={"older than": cutoff.isoformat(), **purged})
    return purged
