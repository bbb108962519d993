"""Staff manage people: invite (a set-password link), deactivate, reactivate, send password
resets and allow people to create projects. Every change lands in the audit log.

Where the studio sends no e-mail, the link goes back to the staff member who asked for it,
to hand over in person; it is never stored, and works once (Django's token is signed with
the password it replaces)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from studio.audit import record
from studio.models import AuditEntry

# The right to create projects, for people who are not staff: Django's own permission on the
# project model, so that the admin's user page grants it too.
CREATE_PROJECTS = "annotation.add_project"

# Backends that deliver nothing to anyone: they print, keep or drop the message.
UNDELIVERING_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}

# The kinds of user-management event on the staff's events page: a name, and the entries.
EVENT_KINDS = {
    "invitation": ("Invitations", Q(action="user.create")),
    "activation": ("Deactivations and reactivations", Q(action="user.update")),
    "reset": ("Password resets", Q(action="user.password_reset")),
    "role": ("Role changes", Q(action="user.role") | Q(action__startswith="membership.")),
}


class UserRefused(Exception):
    pass


def delivers_mail() -> bool:
    """Whether e-mail reaches people: EMAIL_BACKEND names one that sends (SMTP, or a service's
    own), not the default console backend, which only prints."""
    return settings.EMAIL_BACKEND not in UNDELIVERING_BACKENDS


def set_password_link(request, user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return request.build_absolute_uri(reverse("password_reset_confirm", args=[uid, token]))


def invite(request, *, username: str, email: str, is_staff: bool = False):
    """The new account, and its set-password link when it is for the inviter to hand over
    (None when it went by e-mail)."""
    User = get_user_model()
    username, email = username.strip(), email.strip()
    mailed = delivers_mail() and settings.LOCAL_PASSWORDS
    if not username:
        raise UserRefused("Give the new person a username.")
    try:
        User._meta.get_field("username").clean(username, None)  # the rule Django's own forms apply
    except ValidationError as error:
        raise UserRefused(f"That username cannot be used: {' '.join(error.messages)}") from None
    if email or mailed:
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
        after = {"username": username, "email": email, "staff": is_staff, "link": _delivery(request, user, mailed)}
        record(request.user, "user.create", obj=user, after=after)
    if not settings.LOCAL_PASSWORDS:  # they sign in with the provider, under this username
        return user, None
    link = set_password_link(request, user)
    if not mailed:
        return user, link
    send_mail(
        "Your Clinical NER Studio account",
        f"{request.user.get_username()} invited you to Clinical NER Studio as {username}.\n\n"
        f"Set your password here (the link works once):\n{link}\n",
        None,
        [email],
    )
    return user, None


def set_active(request, user, active: bool) -> None:
    if user == request.user and not active:
        raise UserRefused("You cannot deactivate your own account.")
    _may_change(request, user)
    with transaction.atomic():
        before = user.is_active
        user.is_active = active
        user.save(update_fields=["is_active"])
        record(request.user, "user.update", obj=user, before={"active": before}, after={"active": active})


def send_reset(request, user) -> str | None:
    """The reset link when it is for the staff member to hand over; None when it was mailed."""
    if not settings.LOCAL_PASSWORDS:
        raise UserRefused(f"This studio takes no passwords: people sign in with {settings.OIDC_PROVIDER_NAME}.")
    mailed = delivers_mail()
    if mailed and not user.email:
        raise UserRefused(f"{user.get_username()} has no email address to send a reset link to.")
    _may_change(request, user)
    if not mailed and user.is_staff and user != request.user and not request.user.is_superuser:
        # The link on screen opens the account: a staff member must not be able to take a colleague's.
        raise UserRefused(f"{user.get_username()} is staff; only a superuser can make a reset link for that account.")
    record(request.user, "user.password_reset", obj=user, after={"link": _delivery(request, user, mailed)})
    link = set_password_link(request, user)
    if not mailed:
        return link
    send_mail(
        "Reset your Clinical NER Studio password",
        f"Set a new password here (the link works once):\n{link}\n",
        None,
        [user.email],
    )
    return None


def _delivery(request, user, mailed: bool) -> str:
    """How the link went, for the log; never the link itself."""
    if not settings.LOCAL_PASSWORDS:
        return f"none: signs in with {settings.OIDC_PROVIDER_NAME}"
    return f"emailed to {user.email}" if mailed else f"shown to {request.user.get_username()}"


def creates_projects(user) -> bool:
    return user.is_staff or user.has_perm(CREATE_PROJECTS)


def people():
    """Everyone, by name, each with `creates_projects` (from one query, not one a person)."""
    permission = _create_projects_permission()
    allowed = set(
        get_user_model()
        .objects.filter(Q(user_permissions=permission) | Q(groups__permissions=permission))
        .values_list("pk", flat=True)
    )
    everyone = list(get_user_model().objects.order_by("username"))
    for person in everyone:
        person.creates_projects = person.is_staff or person.is_superuser or person.pk in allowed
    return everyone


def allow_creating_projects(request, user, allowed: bool) -> None:
    """Give or take the right to create projects (staff have it by being staff)."""
    _may_change(request, user)
    if user.is_staff:
        raise UserRefused(f"{user.get_username()} is staff, and staff always create projects.")
    permission = _create_projects_permission()
    with transaction.atomic():
        before = user.user_permissions.filter(pk=permission.pk).exists()
        if allowed:
            user.user_permissions.add(permission)
        else:
            user.user_permissions.remove(permission)
        record(
            request.user,
            "user.role",
            obj=user,
            before={"creates_projects": before},
            after={"creates_projects": allowed},
        )


def _create_projects_permission() -> Permission:
    app_label, codename = CREATE_PROJECTS.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def _may_change(request, user) -> None:
    if user.is_superuser and not request.user.is_superuser:
        raise UserRefused(f"{user.get_username()} is a superuser; only a superuser can change that account.")


def name_accounts(entries) -> None:
    """Give each entry the `account` it is about: the user, or the member whose role changed."""
    ids = [entry.object_id for entry in entries if entry.object_type == "user"]
    names = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    for entry in entries:
        if entry.object_type == "user":
            entry.account = names.get(entry.object_id, f"user #{entry.object_id}")
        else:
            entry.account = (entry.after or entry.before or {}).get("user", "")


def events(*, kind: str = "", username: str = ""):
    """The user-management entries of the audit log, newest first: all of them, or one kind,
    or those done by or to one person."""
    entries = AuditEntry.objects.filter(_any_kind())
    if kind in EVENT_KINDS:
        entries = entries.filter(EVENT_KINDS[kind][1])
    if username:
        subject = get_user_model().objects.filter(username=username).values_list("pk", flat=True).first()
        about = Q(actor_name=username) | Q(before__user=username) | Q(after__user=username)
        if subject is not None:
            about |= Q(object_type="user", object_id=subject)
        entries = entries.filter(about)
    return entries


def _any_kind() -> Q:
    condition = Q()
    for _name, kind in EVENT_KINDS.values():
        condition |= kind
    return condition
