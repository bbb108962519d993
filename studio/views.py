from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from studio import health, users


@require_GET
@never_cache
@login_not_required
def healthz(request):
    report = health.report()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def _staff_only(request):
    if not request.user.is_staff:
        raise PermissionDenied("Only staff manage people.")


@require_GET
def user_list(request):
    _staff_only(request)
    users = get_user_model().objects.order_by("username")
    return render(request, "studio/user_list.html", {"users": users})


@require_POST
def user_invite(request):
    _staff_only(request)
    try:
        user = users.invite(
            request,
            username=request.POST.get("username", ""),
            email=request.POST.get("email", ""),
            is_staff=request.POST.get("is_staff") == "on",
        )
    except users.UserRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Invited {user.get_username()}: a set-password link went to {user.email}.")
    return redirect("user_list")


@require_POST
def user_action(request, user_id, action):
    _staff_only(request)
    user = get_object_or_404(get_user_model(), pk=user_id)
    try:
        if action == "reset":
            users.send_reset(request, user)
            messages.success(request, f"A password reset link went to {user.email}.")
        else:
            users.set_active(request, user, action == "reactivate")
            messages.success(request, f"{user.get_username()} is {'active' if user.is_active else 'deactivated'}.")
    except users.UserRefused as refused:
        messages.error(request, str(refused))
    return redirect("user_list")
