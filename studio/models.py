from django.db import models


class FailedLogin(models.Model):
    """One failed log-in, for throttling guesses per address and username."""

    ip_address = models.GenericIPAddressField()
    username = models.CharField(max_length=150)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["ip_address", "username", "at"], name="failed_login_lookup")]
