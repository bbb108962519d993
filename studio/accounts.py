"""Log-in throttling for every way in (the studio's log-in page and the admin's), through
django-axes, which counts the failures that Django's authentication reports.

A username is locked from one address after LOGIN_FAILURE_LIMIT failures there, and from
everywhere after LOGIN_ACCOUNT_FAILURE_LIMIT failures from any addresses: more, so that a
stranger cannot lock a colleague out with a few guesses, but few enough to stop a guesser
who spreads over many addresses. Both locks lift LOGIN_LOCK_MINUTES after the last failure.
Password-reset e-mails are limited per address and per account the same way.
"""

from functools import wraps

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.db.models import Sum
from django.http import HttpResponseRedirect
from django.shortcuts import render

from studio import sso
from studio.users import delivers_mail


def client_address(request) -> str:
    """Where the request came from: REMOTE_ADDR, or with TRUSTED_PROXIES=N the address that
    the Nth proxy from us put in X-Forwarded-For. Anyone can write that header, so only the
    entries our own proxies added count."""
    proxies = settings.TRUSTED_PROXIES
    if proxies:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"


def attempted_username(request, credentials) -> str:
    """The username tried, cut to what a username can be: nobody has a longer one, and the
    record of the attempt must still be written."""
    username = (credentials or {}).get("username") or request.POST.get("username") or ""
    return str(username)[: get_user_model()._meta.get_field("username").max_length]


def _failures(request, credentials) -> tuple[int, int]:
    """Recent failures for this username: from this address, and from anywhere."""
    recent = AccessAttempt.objects.filter(
        username=get_client_username(request, credentials), attempt_time__gte=get_cool_off_threshold(request)
    )
    here = recent.filter(ip_address=client_address(request)).aggregate(n=Sum("failures_since_start"))["n"] or 0
    anywhere = recent.aggregate(n=Sum("failures_since_start"))["n"] or 0
    return here, anywhere


class LoginThrottle(AxesDatabaseHandler):
    def get_failures(self, request, credentials=None) -> int:
        # Axes compares one count with LOGIN_FAILURE_LIMIT; the account-wide count is scaled to
        # reach it exactly at LOGIN_ACCOUNT_FAILURE_LIMIT.
        here, anywhere = _failures(request, credentials)
        return max(here, anywhere * settings.LOGIN_FAILURE_LIMIT // settings.LOGIN_ACCOUNT_FAILURE_LIMIT)


def locked_out(request, response=None, credentials=None):
    """The log-in page again, saying why and for how long (429)."""
    username = get_client_username(request, credentials) or ""
    here, _anywhere = _failures(request, credentials)
    where = " from this address" if here >= settings.LOGIN_FAILURE_LIMIT else ""
    minutes = settings.LOGIN_LOCK_MINUTES
    form = AuthenticationForm(request, data={"username": username})
    form.errors.clear()
    form.add_error(
        None,
        f"Too many failed log-ins for {username}{where}. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, or reset your password.",
    )
    return render(request, "registration/login.html", {"form": form}, status=429)


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    """Says the same whether or not an e-mail went, so the limit reveals nothing either."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "mail_delivered": delivers_mail()}

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        if not (_allow(f"reset:address:{client_address(self.request)}") and _allow(f"reset:account:{email}")):
            return auth_views.HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


def _allow(key: str) -> bool:
    """Count one request against `key`; False once PASSWORD_RESETS_PER_HOUR are used up."""
    cache.add(key, 0, timeout=3600)
    try:
        return cache.incr(key) <= settings.PASSWORD_RESETS_PER_HOUR
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=3600)
        return True


def passwords_off_message() -> str:
    return f"This studio takes no passwords: sign in with {settings.OIDC_PROVIDER_NAME} instead."


def local_passwords_only(view):
    """Every page that takes or sets a password refuses, saying how to sign in, when
    LOCAL_PASSWORDS is false."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not settings.LOCAL_PASSWORDS:
            return render(request, "registration/passwords_off.html", {"refusal": passwords_off_message()}, status=403)
        return view(request, *args, **kwargs)

    return guarded


class LoginView(auth_views.LoginView):
    """The log-in page: the password form and, with single sign-on, its button; only the
    button when local passwords are off."""

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "local_passwords": settings.LOCAL_PASSWORDS,
            "sign_on_name": settings.OIDC_PROVIDER_NAME if settings.OIDC_ISSUER else "",
        }

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_PASSWORDS:
            form = AuthenticationForm(request, data={"username": request.POST.get("username", "")})
            form.errors.clear()
            form.add_error(None, passwords_off_message())
            return self.render_to_response(self.get_context_data(form=form), status=403)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    """Logging out of a session that began at the provider goes on to log out there too."""

    def post(self, request, *args, **kwargs):
        provider_logout = sso.logout_url(request)  # read before the session is emptied
        response = super().post(request, *args, **kwargs)
        return HttpResponseRedirect(provider_logout) if provider_logout else response
