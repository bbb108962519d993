"""Log-in throttling: after LOGIN_FAILURE_LIMIT failures from one address for one username,
that pair is locked for LOGIN_LOCK_MINUTES."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from studio.models import FailedLogin


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"


def minutes_locked(ip_address: str, username: str) -> int:
    """Minutes until this pair may try again (0: not locked)."""
    window = timezone.now() - timedelta(minutes=settings.LOGIN_LOCK_MINUTES)
    failures = FailedLogin.objects.filter(ip_address=ip_address, username=username, at__gte=window)
    if failures.count() < settings.LOGIN_FAILURE_LIMIT:
        return 0
    oldest = failures.order_by("-at")[settings.LOGIN_FAILURE_LIMIT - 1].at
    remaining = oldest + timedelta(minutes=settings.LOGIN_LOCK_MINUTES) - timezone.now()
    return max(1, -(-int(remaining.total_seconds()) // 60))


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self):
        username = (self.data.get("username") or "").strip()
        address = client_address(self.request)
        locked = minutes_locked(address, username)
        if locked:
            raise forms.ValidationError(
                f"Too many failed log-ins for {username} from this address. "
                f"Try again in {locked} minute{'s' if locked != 1 else ''}, or reset your password.",
                code="locked",
            )
        try:
            return super().clean()
        except forms.ValidationError:
            FailedLogin.objects.create(ip_address=address, username=username[:150])
            raise
