"""The people a peer tool's export names as annotators, and the studio accounts their work
goes to: an account whose user name or e-mail matches, or else a new inactive one (a staff
member can activate it later). The same rule serves the preview shown before an import and
the import itself."""

import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q

from annotation.models import Membership, Project


@dataclass(frozen=True)
class AccountMatch:
    source: str  # the name, e-mail or id the file gives
    user: object | None  # the matching account, None when a new one is to be made
    new_username: str = ""  # the user name a new account gets

    def describe(self) -> str:
        if self.user is not None:
            return f"{self.user.get_username()} (existing account)"
        return f"{self.new_username} (new inactive account)"


def matches(names, *, importer) -> list[AccountMatch]:
    """For each source name: the account its work goes to. People who are not staff see only
    the accounts of colleagues (who share a project with them) matched, so that an import
    does not tell them who else has an account."""
    users = get_user_model().objects
    candidates = (
        users.all()
        if importer.is_staff
        else users.filter(Q(pk=importer.pk) | Q(memberships__project__memberships__user=importer)).distinct()
    )
    taken: set[str] = set()
    result = []
    for name in sorted(set(names)):
        # An account an earlier import made for the same person counts too.
        query = Q(username__iexact=name) | Q(username__iexact=_username_for(name))
        if "@" in name:
            query |= Q(email__iexact=name)
        user = candidates.filter(query).order_by("pk").first()
        if user is not None:
            result.append(AccountMatch(name, user))
            continue
        username = _free_username(_username_for(name), taken)
        taken.add(username)
        result.append(AccountMatch(name, None, username))
    return result


def accounts_for(project: Project, names, *, importer) -> dict[str, object]:
    """The accounts of `matches()`, new inactive ones created, each an annotator of `project`."""
    accounts = {}
    for match in matches(names, importer=importer):
        user = match.user
        if user is None:
            email = match.source if "@" in match.source else ""
            user = get_user_model().objects.create_user(match.new_username, email=email, is_active=False)
        Membership.objects.get_or_create(project=project, user=user, defaults={"role": Membership.Role.ANNOTATOR})
        accounts[match.source] = user
    return accounts


def _username_for(name: str) -> str:
    local = name.split("@", 1)[0] if "@" in name else name
    slug = re.sub(r"[^\w.+-]+", "-", local).strip("-")[:100] or "annotator"
    return f"imported-{slug}" if slug.isdigit() else slug


def _free_username(wanted: str, taken: set[str]) -> str:
    users = get_user_model().objects
    candidate, number = wanted, 1
    while candidate in taken or users.filter(username__iexact=candidate).exists():
        number += 1
        candidate = f"{wanted}-{number}"
    return candidate
