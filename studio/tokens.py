"""Personal API tokens: made and revoked on the profile page, sent as `Authorization: Token <key>`.

The raw key exists only in the response that creates it; the database keeps its SHA-256.
"""

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from studio.audit import record
from studio.models import ApiToken

# A fixed start makes a leaked key easy to recognise, e.g. by secret scanners.
KEY_PREFIX = "ner_"
PREFIX_LENGTH = len(KEY_PREFIX) + 8
MAX_LIVE_TOKENS = 20
# Writing last_used_at on every call would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
KEYWORDS = {"token", "bearer"}


class TokenRefused(Exception):
    pass


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(user, name: str) -> tuple[ApiToken, str]:
    """The new token and its raw key, which the caller shows once and never stores."""
    name = (name or "").strip()
    max_length = ApiToken._meta.get_field("name").max_length
    if not name:
        raise TokenRefused("Give the token a name that says what it is for, e.g. “training pipeline”.")
    if len(name) > max_length:
        raise TokenRefused(f"Keep the token's name to {max_length} characters or fewer.")
    if "\x00" in name:
        raise TokenRefused("The name contains a NUL character; use letters, digits and punctuation.")
    with transaction.atomic():
        # Locking the user row keeps two simultaneous requests from both passing the limit.
        get_user_model().objects.select_for_update().get(pk=user.pk)
        if user.api_tokens.filter(revoked_at__isnull=True).count() >= MAX_LIVE_TOKENS:
            raise TokenRefused(f"You already have {MAX_LIVE_TOKENS} active tokens: revoke one you no longer use first.")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(user=user, name=name, prefix=key[:PREFIX_LENGTH], key_hash=hash_key(key))
        record(user, "token.create", obj=token, after={"name": name, "prefix": token.prefix})
    return token, key


def revoke_token(user, token_id) -> ApiToken:
    """Revoke one of `user`'s tokens; someone else's token is as unknown as a missing one (404)."""
    with transaction.atomic():
        token = get_object_or_404(ApiToken.objects.select_for_update(), pk=token_id, user=user)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record(user, "token.revoke", obj=token, after={"name": token.name, "prefix": token.prefix})
    return token


def revoke_all(user, *, reason: str) -> int:
    """Revoke every live token of `user` (their password changed: a token made by whoever
    knew the old one must not outlive it)."""
    with transaction.atomic():
        live = ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
        names = list(live.values_list("name", flat=True))
        revoked = live.update(revoked_at=timezone.now())
        if revoked:
            record(None, "token.revoke", obj=user, after={"tokens": names, "reason": reason})
    return revoked


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` (or `Bearer <key>`). Without that header it steps aside so
    session authentication can try."""

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode("latin-1").lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: send 'Authorization: Token <key>'.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        return self.authenticate_key(key)

    def authenticate_key(self, key: str):
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                f"This token was revoked on {timezone.localtime(token.revoked_at):%Y-%m-%d %H:%M %Z}."
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This user is inactive.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    def authenticate_header(self, request):
        # A WWW-Authenticate value is what makes DRF answer 401 rather than 403.
        return "Token"


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "studio.tokens.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token <key>, from your profile page",
        }
