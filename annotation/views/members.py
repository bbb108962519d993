"""Who belongs to a project, and in which role."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from annotation.access import Role, project_for
from annotation.models import Membership
from annotation.services import (
    MembershipRefused,
    remove_member,
    set_role,
)


@require_POST
def member_save(request, project_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    try:
        membership = set_role(
            project, request.POST.get("username", ""), request.POST.get("role", ""), actor=request.user
        )
    except MembershipRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{membership.user} is now {membership.get_role_display().lower()}.")
    return redirect("project_settings", project.pk)


@require_POST
def member_remove(request, project_id, membership_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id, project=project)
    try:
        remove_member(project, membership, actor=request.user)
    except MembershipRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{membership.user} no longer belongs to {project.name}.")
    return redirect("project_settings", project.pk)
