"""Staff manage people: invite (a set-password link by email), deactivate, reactivate, and
send password resets. Every change lands in the audit log."""

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from studio.audit import record


class UserRefused(Exception):
    pass


def set_password_link(request, user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return request.build_absolute_uri(reverse("password_reset_confirm", args=[uid, token]))


def invite(request, *, username: str, email: str, is_staff: bool = False):
    User = get_user_model()
    username, email = username.strip(), email.strip()
    if not username:
        raise UserRefused("Give the new person a username.")
    try:
        User._meta.get_field("username").clean(username, None)  # the rule Django's own forms apply
    except ValidationError as error:
        raise UserRefused(f"That username cannot be used: {' '.join(error.messages)}") from None
    try:
        validate_email(email)
    except ValidationError:
        raise UserRefused(f"{email!r} is not an email address.") from None
    if User.objects.filter(username=username).exists():
        raise UserRefused(f"The username {username!r} is taken.")
    with transaction.atomic():
        user = User.objects.create_user(username=username, email=email, is_staff=is_staff)
        user.set_unusable_password()
        user.save()
        record(request.user, "user.create", obj=user, after={"username": username, "email": email, "staff": is_staff})
    send_mail(
        "Your Clinical NER Studio account",
        f"{request.user.get_username()} invited you to Clinical NER Studio as {username}.\n\n"
        f"Set your password here (the link works once):\n{set_password_link(request, user)}\n",
        None,
        [email],
    )
    return user


def set_active(request, user, active: bool) -> None:
    if user == request.user and not active:
        raise UserRefused("You cannot deactivate your own account.")
    if user.is_superuser and not request.user.is_superuser:
        raise UserRefused(f"{user.get_username()} is a superuser; only a superuser can change that account.")
    with transaction.atomic():
        before = user.is_active
        user.is_active = active
        user.save(update_fields=["is_active"])
        record(request.user, "user.update", obj=user, before={"active": before}, after={"active": active})


def send_reset(request, user) -> None:
    if not user.email:
        raise UserRefused(f"{user.get_username()} has no email address to send a reset link to.")
    record(request.user, "user.password_reset", obj=user)
    send_mail(
        "Reset your Clinical NER Studio password",
        f"Set a new password here (the link works once):\n{set_password_link(request, user)}\n",
        None,
        [user.email],
    )
