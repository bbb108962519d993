from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A personal key for the REST API.

    Only the SHA-256 of the key is kept: someone who reads the database (a backup, a leaked
    dump) gets nothing they can authenticate with. The raw key is shown once, when it is made.
    A key is 256 random bits, so a fast unsalted hash is enough; a slow password hash would
    only slow down every API call.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “training pipeline”.")
    prefix = models.CharField(max_length=16, help_text="The start of the key, to tell tokens apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEntry(models.Model):
    """Who changed what, when, with the values before and after. Append-only: a database
    trigger refuses UPDATE and DELETE. Ids are plain numbers, not foreign keys, so that
    deleting a user, project or document never has to touch the log."""

    at = models.DateTimeField(auto_now_add=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40)
    project_id = models.BigIntegerField(null=True, blank=True)
    document_id = models.BigIntegerField(null=True, blank=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "annotation_auditentry"  # where it was made, with the trigger that guards it
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["project_id", "-at"], name="audit_project"),
            models.Index(fields=["document_id", "-at"], name="audit_document"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action}"


class AccessEntry(models.Model):
    """Who read which documents, when, and how: opening one, exporting a project, predicting on
    a text. Append-only like the audit log: a database trigger refuses UPDATE, and DELETE except
    inside the retention purge, which says so to the database and records what it removed. Ids
    and names are copied, not foreign keys, so deleting a user, project or document leaves the
    record of who read it."""

    class Action(models.TextChoices):
        OPEN = "open", "Opened"
        EXPORT = "export", "Exported"
        PREDICT = "predict", "Predicted on"

    class Via(models.TextChoices):
        PAGE = "page", "Page"
        API = "api", "API"
        COMMAND = "command", "Command"
        WORKER = "worker", "Worker"

    at = models.DateTimeField(default=timezone.now)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    via = models.CharField(max_length=10, choices=Via.choices)
    project_id = models.BigIntegerField(null=True, blank=True)
    project_name = models.CharField(max_length=200, blank=True)
    document_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    document_name = models.CharField(max_length=500, blank=True, help_text="The one document's title, if one.")
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at"], name="access_at"),
            models.Index(fields=["actor_name", "-at"], name="access_actor"),
            GinIndex(fields=["document_ids"], name="access_documents"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action}"
