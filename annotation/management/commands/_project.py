from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from annotation.models import Project


def find_project(name_or_id: str) -> Project:
    query = Project.objects.filter(pk=int(name_or_id)) if name_or_id.isdigit() else Project.objects.none()
    project = query.first() or Project.objects.filter(name=name_or_id).first()
    if project is None:
        raise CommandError(f"No project named or numbered {name_or_id!r}.")
    return project


def find_user(username: str | None):
    User = get_user_model()
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        return user
    user = User.objects.filter(is_superuser=True).order_by("pk").first()
    if user is None:
        raise CommandError("No admin account exists; run manage.py ensure_admin or pass --user.")
    return user
