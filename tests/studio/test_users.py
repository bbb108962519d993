import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from annotation.services import create_project, set_role
from studio import users
from studio.models import AuditEntry
from tests.cast import person

pytestmark = pytest.mark.django_db
LINK = re.compile(r"http://testserver/accounts/reset/[^/\s\"]+/[^/\s\"]+/")
NEW_PASSWORD = {"new_password1": "a-long-passphrase-7", "new_password2": "a-long-passphrase-7"}


class DeliveringBackend(EmailBackend):
    """Keeps mail in the test outbox, but is not one of the backends that reach nobody: the
    studio takes it for a real one, as it would SMTP."""


def allowed_to_create_projects(user):
    user.user_permissions.add(Permission.objects.get(content_type__app_label="annotation", codename="add_project"))
    return user


@pytest.fixture
def staff_client(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def stranger():
    """Someone else's browser, logged in as nobody."""
    return Client()


@pytest.fixture
def mail_delivered(settings):
    settings.EMAIL_BACKEND = f"{__name__}.DeliveringBackend"


def set_password(client, link) -> str:
    """Open a set-password link, choose NEW_PASSWORD, and return the page that follows."""
    form = client.get(link, follow=True)
    assert "Set a new password" in form.content.decode()
    return client.post(form.redirect_chain[-1][0], NEW_PASSWORD, follow=True).content.decode()


@pytest.mark.parametrize(
    ("backend", "delivers"),
    [
        ("django.core.mail.backends.console.EmailBackend", False),
        ("django.core.mail.backends.locmem.EmailBackend", False),
        ("django.core.mail.backends.filebased.EmailBackend", False),
        ("django.core.mail.backends.dummy.EmailBackend", False),
        ("django.core.mail.backends.smtp.EmailBackend", True),
        ("anymail.backends.mailgun.EmailBackend", True),
    ],
)
def test_only_a_backend_that_sends_counts_as_email(settings, backend, delivers):
    settings.EMAIL_BACKEND = backend
    assert users.delivers_mail() is delivers


def test_without_email_the_inviter_alone_sees_the_link_once(staff_client, stranger, mailoutbox, django_user_model):
    response = staff_client.post(reverse("user_invite"), {"username": "nurse", "email": ""})
    page = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert "This studio sends no email: give this link to nurse yourself." in page
    assert 'data-copy="one-time-link"' in page and "js/copy_link.js" in page
    link = LINK.search(page).group(0)
    assert mailoutbox == []
    nurse = django_user_model.objects.get(username="nurse")
    assert not nurse.has_usable_password() and nurse.email == ""

    colleague = person("colleague", is_staff=True)
    staff_client.force_login(colleague)
    for later in (reverse("user_list"), reverse("user_events")):
        assert not LINK.search(staff_client.get(later).content.decode())
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert token not in str(list(AuditEntry.objects.values_list("before", "after")))
    assert AuditEntry.objects.get(action="user.create").after["link"] == "shown to admin"

    assert "Password set" in set_password(stranger, link)
    logged_in = stranger.post(reverse("login"), {"username": "nurse", "password": NEW_PASSWORD["new_password1"]})
    assert logged_in["Location"] == reverse("home")
    stranger.post(reverse("logout"))
    used = stranger.get(link, follow=True).content.decode()
    assert "This link has been used or has expired." in used


def test_with_email_the_invitation_goes_by_mail_and_the_page_keeps_no_link(
    staff_client, stranger, mailoutbox, mail_delivered, django_user_model
):
    response = staff_client.post(
        reverse("user_invite"), {"username": "nurse", "email": "nurse@example.org"}, follow=True
    )
    page = response.content.decode()
    assert "Invited nurse: a set-password link went to nurse@example.org." in page
    assert not LINK.search(page) and "Copy link" not in page
    link = LINK.search(mailoutbox[0].body).group(0)
    assert "Password set" in set_password(stranger, link)
    assert AuditEntry.objects.get(action="user.create").after["link"] == "emailed to nurse@example.org"


def test_an_invitation_by_email_needs_an_address(staff_client, mail_delivered, django_user_model):
    page = staff_client.post(reverse("user_invite"), {"username": "nurse", "email": ""}, follow=True)
    assert "&#x27;&#x27; is not an email address." in page.content.decode()
    assert not django_user_model.objects.filter(username="nurse").exists()


def test_without_email_the_forgotten_password_page_sends_people_to_staff(client, settings):
    page = client.get(reverse("password_reset")).content.decode()
    assert "This studio sends no email: ask a staff member for a link to set a new password." in page
    assert "Send the link" not in page
    settings.EMAIL_BACKEND = f"{__name__}.DeliveringBackend"
    page = client.get(reverse("password_reset")).content.decode()
    assert "Send the link" in page and "ask a staff member" not in page


def test_bad_invitations_get_specific_messages(staff_client, admin):
    taken = staff_client.post(reverse("user_invite"), {"username": "admin", "email": "a@example.org"}, follow=True)
    assert "The username &#x27;admin&#x27; is taken." in taken.content.decode()
    bad = staff_client.post(reverse("user_invite"), {"username": "x", "email": "not-an-email"}, follow=True)
    assert "is not an email address" in bad.content.decode()
    assert not AuditEntry.objects.filter(action="user.create").exists()


def test_without_email_a_reset_shows_its_link_even_for_someone_without_an_address(staff_client, stranger, mailoutbox):
    nurse = person("nurse", password="old-passphrase-1")
    listed = staff_client.get(reverse("user_list")).content.decode()
    assert 'aria-label="Make a password reset link for nurse"' in listed
    response = staff_client.post(reverse("user_reset", args=[nurse.pk]))
    page = response.content.decode()
    assert "Password reset for nurse" in page and "no-store" in response["Cache-Control"]
    assert mailoutbox == []
    assert AuditEntry.objects.get(action="user.password_reset").after == {"link": "shown to admin"}
    assert "Password set" in set_password(stranger, LINK.search(page).group(0))
    nurse.refresh_from_db()
    assert nurse.check_password(NEW_PASSWORD["new_password1"])


def test_a_staff_member_gets_no_link_to_a_colleagues_or_a_superusers_account(client, admin, mailoutbox):
    staff = person("staff", is_staff=True)
    colleague = person("colleague", is_staff=True)
    client.force_login(staff)
    for account, reason in [
        (admin, "admin is a superuser; only a superuser can change that account."),
        (colleague, "colleague is staff; only a superuser can make a reset link for that account."),
    ]:
        refused = client.post(reverse("user_reset", args=[account.pk]), follow=True).content.decode()
        assert reason in refused and not LINK.search(refused)
    assert not users.events().exists()
    assert LINK.search(client.post(reverse("user_reset", args=[person("nurse").pk])).content.decode())
    client.force_login(admin)
    assert LINK.search(client.post(reverse("user_reset", args=[colleague.pk])).content.decode())


def test_with_email_a_reset_is_mailed(staff_client, mailoutbox, mail_delivered):
    nurse = person("nurse", email="n@example.org")
    page = staff_client.post(reverse("user_reset", args=[nurse.pk]), follow=True).content.decode()
    assert "A password reset link went to n@example.org." in page and not LINK.search(page)
    assert mailoutbox[-1].to == ["n@example.org"]
    nobody = person("nobody")
    refused = staff_client.post(reverse("user_reset", args=[nobody.pk]), follow=True).content.decode()
    assert "nobody has no email address to send a reset link to." in refused


def test_deactivating_asks_first(staff_client, django_user_model):
    nurse = person("nurse")
    listed = staff_client.get(reverse("user_list")).content.decode()
    assert f'href="{reverse("user_deactivate", args=[nurse.pk])}"' in listed
    question = staff_client.get(reverse("user_deactivate", args=[nurse.pk])).content.decode()
    assert "Deactivate nurse?" in question and "Cancel" in question
    nurse.refresh_from_db()
    assert nurse.is_active
    done = staff_client.post(reverse("user_deactivate", args=[nurse.pk]), follow=True).content.decode()
    assert "nurse is deactivated." in done
    nurse.refresh_from_db()
    assert not nurse.is_active
    staff_client.post(reverse("user_reactivate", args=[nurse.pk]))
    nurse.refresh_from_db()
    assert nurse.is_active
    assert list(users.events(username="nurse").order_by("id").values_list("after", flat=True)) == [
        {"active": False},
        {"active": True},
    ]


def test_ones_own_account_is_not_offered_for_deactivation_and_is_refused(staff_client, admin):
    listed = staff_client.get(reverse("user_list")).content.decode()
    assert reverse("user_deactivate", args=[admin.pk]) not in listed and "This is you" in listed
    for method in ("get", "post"):
        refused = getattr(staff_client, method)(reverse("user_deactivate", args=[admin.pk]), follow=True)
        assert "You cannot deactivate your own account." in refused.content.decode()
        admin.refresh_from_db()
        assert admin.is_active
    assert not users.events().exists()


def test_staff_allow_and_withdraw_creating_projects(staff_client):
    nurse = person("nurse")
    client = Client()
    client.force_login(nurse)
    assert client.get(reverse("project_create")).status_code == 403
    url = reverse("user_project_creation", args=[nurse.pk])
    allowed = staff_client.post(url, {"allowed": "true"}, follow=True).content.decode()
    assert "nurse may now create projects." in allowed and "Project creator" in allowed
    assert client.get(reverse("project_create")).status_code == 200
    assert reverse("project_create") in client.get(reverse("home")).content.decode()
    staff_client.post(url, {"allowed": "false"})
    assert client.get(reverse("project_create")).status_code == 403
    assert list(AuditEntry.objects.filter(action="user.role").order_by("id").values_list("before", "after")) == [
        ({"creates_projects": False}, {"creates_projects": True}),
        ({"creates_projects": True}, {"creates_projects": False}),
    ]
    colleague = person("colleague", is_staff=True)
    refused = staff_client.post(
        reverse("user_project_creation", args=[colleague.pk]), {"allowed": "false"}, follow=True
    )
    assert "colleague is staff, and staff always create projects." in refused.content.decode()


def test_people_who_may_not_create_projects_see_no_button_and_a_reason(client):
    client.force_login(person("nurse"))
    home = client.get(reverse("home")).content.decode()
    assert reverse("project_create") not in home
    assert "staff create projects, or allow you to" in home
    refused = client.get(reverse("project_create"))
    assert refused.status_code == 403
    assert "Only staff, and people a staff member has allowed to, create projects" in refused.content.decode()


def test_the_admin_that_make_run_creates_may_create_projects(client, django_user_model):
    call_command("ensure_admin", stdout=io.StringIO())
    demo_admin = django_user_model.objects.get(username="admin")
    assert users.creates_projects(demo_admin)
    client.force_login(demo_admin)
    assert reverse("project_create") in client.get(reverse("home")).content.decode()


def test_staff_see_user_management_events_filtered_and_paged(staff_client, admin, monkeypatch):
    from studio import views

    staff_client.post(reverse("user_invite"), {"username": "nurse", "email": ""})
    nurse = person("nurse2")
    set_role(create_project("Ward", created_by=admin), "nurse2", "reviewer", actor=admin)
    staff_client.post(reverse("user_deactivate", args=[nurse.pk]))
    staff_client.post(reverse("user_reset", args=[nurse.pk]))
    events = reverse("user_events")

    page = staff_client.get(events).content.decode()
    assert page.count("<code>") == 4
    assert "project.create" not in page
    assert "<code>membership.update</code>" in page and "role: reviewer" in page
    roles = staff_client.get(events, {"kind": "role"}).content.decode()
    assert roles.count("<code>") == 1 and "<code>membership.update</code>" in roles
    invitations = staff_client.get(events, {"kind": "invitation"}).content.decode()
    assert invitations.count("<code>") == 1 and "<code>user.create</code>" in invitations
    about_nurse2 = staff_client.get(events, {"user": "nurse2"}).content.decode()
    assert about_nurse2.count("<code>") == 3 and "<code>user.create</code>" not in about_nurse2
    nothing = staff_client.get(events, {"user": "nobody"}).content.decode()
    assert "No events for these filters yet." in nothing

    monkeypatch.setattr(views, "EVENTS_PER_PAGE", 3)
    first = staff_client.get(events).content.decode()
    assert first.count("<code>") == 3 and "Page 1 of 2 · 4 events" in first and 'href="?page=2"' in first
    oldest = staff_client.get(events, {"page": 2}).content.decode()
    assert oldest.count("<code>") == 1 and "<code>user.create</code>" in oldest
    monkeypatch.setattr(views, "EVENTS_PER_PAGE", 2)
    filtered = staff_client.get(events, {"user": "nurse2"}).content.decode()
    assert "Page 1 of 2 · 3 events" in filtered and 'href="?user=nurse2&page=2"' in filtered


def test_only_staff_manage_people(client, django_user_model):
    member = person("member")
    other = person("other")
    client.force_login(member)
    assert client.get(reverse("user_list")).status_code == 403
    assert client.get(reverse("user_events")).status_code == 403
    assert client.get(reverse("user_deactivate", args=[other.pk])).status_code == 403
    assert client.post(reverse("user_invite"), {"username": "y", "email": "y@example.org"}).status_code == 403
    assert client.post(reverse("user_project_creation", args=[member.pk]), {"allowed": "true"}).status_code == 403
    assert not django_user_model.objects.filter(username="y").exists()
    assert not users.creates_projects(django_user_model.objects.get(pk=member.pk))
