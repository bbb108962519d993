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
