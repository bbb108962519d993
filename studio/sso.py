"""Single sign-on through an OpenID Connect provider (mozilla-django-oidc), configured by
OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET.

The provider's endpoints come from its discovery document, read on the first sign-in, so a
provider that is down stops nobody from starting the studio or logging in with a password.
A person is matched to an account by the OIDC_USERNAME_CLAIM claim, and a new account is made
on their first sign-in; while LOCAL_PASSWORDS is on, an account with a studio password is never
matched. Staff follows the provider: when OIDC_STAFF_GROUPS is set, each
sign-in makes the person staff exactly when the OIDC_STAFF_CLAIM claim names one of those
groups (superusers are left as they are). Project roles are not mapped: they are given per
project by its admins, as for everyone else, and the provider knows no projects.
"""

import logging
from functools import cache
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from studio.audit import record

log = logging.getLogger(__name__)

BACKEND = "studio.sso.Backend"

# mozilla-django-oidc's endpoint settings, and where the discovery document names them.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


class SignOnFailed(Exception):
    """A reason a sign-in did not work, worded for the person signing in."""


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def signed_on(request) -> bool:
    """Whether this session began with the provider, which then asks for any second factor."""
    return request.session.get(BACKEND_SESSION_KEY) == BACKEND


def provider_metadata() -> dict:
    return _discover(settings.OIDC_ISSUER)


@cache
def _discover(issuer: str) -> dict:
    try:
        response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        metadata = response.json()
    except (requests.RequestException, ValueError) as error:
        log.warning("OpenID Connect discovery at %s failed: %s", issuer, error)
        raise SignOnFailed(f"{settings.OIDC_PROVIDER_NAME} does not answer; try again in a moment.") from None
    if metadata.get("issuer", "").rstrip("/") != issuer:
        raise SignOnFailed(f"{settings.OIDC_PROVIDER_NAME} names another issuer; ask staff to check OIDC_ISSUER.")
    return metadata


def _setting(name, *default):
    if name in DISCOVERED:
        return provider_metadata()[DISCOVERED[name]]
    return import_from_settings(name, *default)


class Backend(OIDCAuthenticationBackend):
    get_settings = staticmethod(_setting)

    def __init__(self, *args, **kwargs):
        # Django loads every backend for every log-in, a password one too: the provider's
        # endpoints are looked up only when a sign-in needs them (__getattr__).
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def __getattr__(self, name):
        if name in DISCOVERED:
            return provider_metadata()[DISCOVERED[name]]
        raise AttributeError(name)

    def authenticate(self, request, **kwargs):
        if "nonce" not in kwargs:  # only the provider's callback passes one: not a password log-in
            return None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if payload.get("iss", "").rstrip("/") != settings.OIDC_ISSUER or settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token was issued by another provider or for another client.")
        return payload

    def verify_claims(self, claims) -> bool:
        if not _username(claims):
            raise SignOnFailed(
                f"{settings.OIDC_PROVIDER_NAME} sent no {settings.OIDC_USERNAME_CLAIM!r} claim to name your account; "
                "ask staff to check OIDC_USERNAME_CLAIM."
            )
        return True

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(username=_username(claims))

    def describe_user_by_claims(self, claims) -> str:
        return f"username {_username(claims)}"

    def create_user(self, claims):
        with transaction.atomic():
            user = self.UserModel(username=_username(claims), email=claims.get("email") or "")
            user.set_unusable_password()
            user.is_staff = _names_staff(claims)
            user.save()
            after = {"username": user.username, "email": user.email, "staff": user.is_staff, "via": "single sign-on"}
            record(user, "user.create", obj=user, after=after)
        return user

    def update_user(self, user, claims):
        if settings.LOCAL_PASSWORDS and user.has_usable_password():
            # Whoever the provider names must not take over an account that logs in with a
            # studio password; with passwords off, the provider alone says who is who.
            raise SignOnFailed(
                f"the account {user.get_username()} logs in with a studio password here; "
                "ask staff to remove its password, or log in with it."
            )
        if not settings.OIDC_STAFF_GROUPS or user.is_superuser:
            return user
        staff = _names_staff(claims)
        if staff != user.is_staff:
            with transaction.atomic():
                user.is_staff = staff
                user.save(update_fields=["is_staff"])
                after = {"staff": staff, "via": f"{settings.OIDC_STAFF_CLAIM} at single sign-on"}
                record(user, "user.role", obj=user, before={"staff": not staff}, after=after)
        return user


def _username(claims) -> str:
    value = claims.get(settings.OIDC_USERNAME_CLAIM)
    return value.strip() if isinstance(value, str) else ""


def _names_staff(claims) -> bool:
    value = claims.get(settings.OIDC_STAFF_CLAIM)
    groups = value if isinstance(value, list) else [value]
    return bool(set(settings.OIDC_STAFF_GROUPS) & {group for group in groups if isinstance(group, str)})


def logout_url(request) -> str:
    """Where to send a person who signed on and logs out, so that the provider ends its
    session too (its end_session_endpoint); empty when there is nowhere to go."""
    if not signed_on(request) or "oidc_id_token" not in request.session:
        return ""
    try:
        endpoint = provider_metadata().get("end_session_endpoint", "")
    except SignOnFailed:
        return ""
    if not endpoint:
        return ""
    query = {
        "id_token_hint": request.session["oidc_id_token"],
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
    }
    return f"{endpoint}?{urlencode(query)}"


def _refuse(request, reason: str):
    messages.error(request, f"Signing in with {settings.OIDC_PROVIDER_NAME} did not work: {reason}")
    return redirect("login")


class AuthenticateView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider's log-in page."""

    get_settings = staticmethod(_setting)

    def __init__(self, **kwargs):
        # Not the parent's: it looks the endpoint up as the view is made, where a provider that
        # is down could not be reported; get() does it instead.
        super(OIDCAuthenticationRequestView, self).__init__(**kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request):
        if not enabled():
            raise Http404("Single sign-on is not set up here.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider_metadata()["authorization_endpoint"]
        except SignOnFailed as failed:
            return _refuse(request, str(failed))
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back, with a code to exchange for the person's
    identity; anything that goes wrong is said on the log-in page."""

    get_settings = staticmethod(_setting)

    def get(self, request):
        if not enabled():
            raise Http404("Single sign-on is not set up here.")
        try:
            return super().get(request)
        except SignOnFailed as failed:
            return _refuse(request, str(failed))
        except SuspiciousOperation as suspicious:
            log.warning("Refused a sign-in: %s", suspicious)
            return _refuse(request, "the answer could not be checked; please start again.")
        except requests.RequestException as error:
            log.warning("Sign-in failed talking to the provider: %s", error)
            return _refuse(request, f"{settings.OIDC_PROVIDER_NAME} does not answer; try again in a moment.")

    def login_failure(self):
        if self.request.GET.get("error"):
            reason = self.request.GET.get("error_description") or self.request.GET["error"]
            return _refuse(self.request, f"the provider said “{reason[:200]}”.")
        user = getattr(self, "user", None)
        if user is not None and not user.is_active:
            return _refuse(self.request, f"the account {user.get_username()} is deactivated here; ask staff.")
        return _refuse(self.request, "please start again.")
