"""Run inside the provider (`django shell`): people, groups and the studio as a client, from
the SEED environment variable (JSON)."""

import json
import os

from django.contrib.auth.models import Group, User
from oauth2_provider.models import Application

seed = json.loads(os.environ["SEED"])
for person in seed["people"]:
    user = User.objects.create_user(person["username"], email=person["email"], password=person["password"])
    for name in person["groups"]:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
Application.objects.create(
    name="Clinical NER Studio",
    client_id=seed["client_id"],
    client_secret=seed["client_secret"],
    client_type=Application.CLIENT_CONFIDENTIAL,
    authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
    redirect_uris=seed["redirect_uri"],
    post_logout_redirect_uris=seed["post_logout_redirect_uri"],
    algorithm=Application.RS256_ALGORITHM,
    skip_authorization=True,
)
