"""Two-factor log-in for local accounts (django-otp): a code from an authenticator app
(TOTP), or one of ten recovery codes, each of which works once.

A password log-in of someone with an authenticator app is only half done: the session can
reach nothing but the code page (and log-out) until a code is given. With STAFF_REQUIRE_2FA,
a staff member without an app can reach nothing but the enrolment page. A session that began
at the single sign-on provider is never asked: the provider asks for any second factor.
"""

import time
from base64 import b32encode

import segno
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import login as otp_login
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from studio import sso
from studio.audit import record

RECOVERY_CODES = 10
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"

# What a half-done log-in still has to do, kept in the session: the page that does it.
PENDING = "two_factor_pending"
VERIFY, ENROL = "two_factor_verify", "two_factor_setup"
ENROLMENT_KEY = "two_factor_enrolment_key"
STEP_NAMES = {VERIFY: "enter your two-factor code", ENROL: "set up two-factor log-in on the Profile page"}


class CodeRefused(Exception):
    pass


def has_app(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@receiver(user_logged_in)
def ask_for_the_second_factor(sender, request, user, **kwargs):
    if request is None or sso.signed_on(request):
        return
    if has_app(user):
        request.session[PENDING] = VERIFY
    elif settings.STAFF_REQUIRE_2FA and user.is_staff:
        request.session[PENDING] = ENROL


class TwoFactorMiddleware:
    """Keeps a half-done log-in on the page that finishes it."""

    STILL_ALLOWED = {"logout"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        step = request.session.get(PENDING) if hasattr(request, "session") else None
        if not step or request.resolver_match.url_name in {step, *self.STILL_ALLOWED}:
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": f"Finish logging in first: {STEP_NAMES[step]}."}, status=403)
        return redirect(f"{reverse(step)}?{urlencode({'next': request.get_full_path()})}")


def enrolment_device(request) -> TOTPDevice:
    """The authenticator app being set up, not stored until a code from it confirms it: its
    key waits in the session, so the QR code stays the same until then."""
    key = request.session.setdefault(ENROLMENT_KEY, default_key())
    return TOTPDevice(user=request.user, name=APP_DEVICE_NAME, key=key, confirmed=True)


def secret(device: TOTPDevice) -> str:
    """The key as an app takes it typed in, in groups of four."""
    key = b32encode(device.bin_key).decode()
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def qr_code(device: TOTPDevice) -> str:
    """The app's set-up link as an SVG QR code, in a data: URL for an <img>."""
    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


def confirm(request, code: str) -> list[str]:
    """Store the app once a code from it matches; it replaces any earlier app, and the new
    recovery codes (returned, shown once) replace any earlier ones."""
    code = _digits(code)
    if ENROLMENT_KEY not in request.session:
        raise CodeRefused("Open this page again: it shows the QR code to scan first.")
    if not code.isdigit():
        raise CodeRefused("Type the 6-digit code your authenticator app shows.")
    device = enrolment_device(request)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if not totp.verify(int(code), tolerance=device.tolerance):
        raise CodeRefused(
            "That code is not the one the app shows now: scan the QR code again, or check the phone's clock."
        )
    device.last_t, device.drift = totp.t(), totp.drift  # this code cannot log in again
    user = request.user
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        device.save()
        StaticDevice.objects.filter(user=user).delete()
        recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=recovery, token=token) for token in codes)
        record(user, "user.two_factor", obj=user, after={"two_factor": True, "recovery_codes": len(codes)})
    del request.session[ENROLMENT_KEY]
    request.session.pop(PENDING, None)
    otp_login(request, device)
    return codes


def verify(request, code: str) -> str:
    """Finish a half-done log-in with an app's code or a recovery code; says which it was."""
    token = _digits(code)
    if not token:
        raise CodeRefused("Type the code your authenticator app shows, or one of your recovery codes.")
    # Digits are the app's; anything else is a recovery code. Trying only that kind keeps a
    # recovery code from counting as a wrong app code, which would hold the next one back.
    kind = TOTPDevice if token.isdigit() else StaticDevice
    with transaction.atomic():
        devices = list(kind.objects.select_for_update().filter(user=request.user, confirmed=True))
        if not all(device.verify_is_allowed()[0] for device in devices):
            raise CodeRefused("Wait a few seconds before the next code: each wrong code makes the wait longer.")
        device = next((device for device in devices if device.verify_token(token.lower())), None)
    if device is None:
        raise CodeRefused(
            "That code is not right. Codes change every 30 seconds: check that the phone's clock is right, "
            "or use one of your recovery codes."
        )
    request.session.pop(PENDING, None)
    otp_login(request, device)
    if kind is StaticDevice:
        left = device.token_set.count()
        return f"You used a recovery code; {left} remain{'s' if left == 1 else ''}. Each works once."
    return ""


def _digits(code: str) -> str:
    return "".join(code.split())
