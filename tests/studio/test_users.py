import re

import pytest
from django.urls import reverse

from studio.models import AuditEntry
from tests.cast import person

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, admin):
    client.force_login(admin)
    return client


def test_staff_invite_someone_who_sets_a_password_through_the_link(staff_client, mailoutbox, django_user_model, client):
    response = staff_client.post(
        reverse("user_invite"), {"username": "nurse", "email": "nurse@example.org"}, follow=True
    )
    assert "Invited nurse" in response.content.decode()
    nurse = django_user_model.objects.get(username="nurse")
    assert not nurse.has_usable_password()
    link = re.search(r"http://\S+/accounts/reset/\S+/", mailoutbox[0].body).group(0)
    staff_client.logout()
    form = client.get(link, follow=True)
    assert "Set a new password" in form.content.decode()
    client.post(
        form.redirect_chain[-1][0], {"new_password1": "a-long-passphrase-7", "new_password2": "a-long-passphrase-7"}
    )
    nurse.refresh_from_db()
    assert nurse.check_password("a-long-passphrase-7")
    assert AuditEntry.objects.filter(action="user.create", object_id=nurse.pk).exists()


def test_bad_invitations_get_specific_messages(staff_client, admin):
    taken = staff_client.post(reverse("user_invite"), {"username": "admin", "email": "a@example.org"}, follow=True)
    assert "The username &#x27;admin&#x27; is taken." in taken.content.decode()
    bad = staff_client.post(reverse("user_invite"), {"username": "x", "email": "not-an-email"}, follow=True)
    assert "is not an email address" in bad.content.decode()


def test_deactivate_reactivate_and_reset(staff_client, admin, django_user_model, mailoutbox):
    nurse = person("nurse", email="n@example.org")
    staff_client.post(reverse("user_deactivate", args=[nurse.pk]))
    nurse.refresh_from_db()
    assert not nurse.is_active
    staff_client.post(reverse("user_reactivate", args=[nurse.pk]))
    nurse.refresh_from_db()
    assert nurse.is_active
    staff_client.post(reverse("user_reset", args=[nurse.pk]))
    assert mailoutbox[-1].to == ["n@example.org"]
    refused = staff_client.post(reverse("user_deactivate", args=[admin.pk]), follow=True)
    assert "You cannot deactivate your own account." in refused.content.decode()


def test_only_staff_manage_people(client, django_user_model):
    member = person("member")
    client.force_login(member)
    assert client.get(reverse("user_list")).status_code == 403
    assert client.post(reverse("user_invite"), {"username": "y", "email": "y@example.org"}).status_code == 403
    assert not django_user_model.objects.filter(username="y").exists()
