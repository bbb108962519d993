from django.conf import settings
from django.db import models


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
