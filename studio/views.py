from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from studio import health, tokens, users


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


def _profile(request, *, new_key=None, new_token=None, error="", token_name="", status=200):
    context = {
        "memberships": request.user.memberships.select_related("project").order_by("project__name"),
        "tokens": request.user.api_tokens.all(),
        "new_key": new_key,
        "new_token": new_token,
        "error": error,
        "token_name": token_name,
        "api_base": request.build_absolute_uri("/api/v1/"),
    }
    return render(request, "studio/profile.html", context, status=status)


@require_GET
def profile(request):
    return _profile(request)


@require_POST
@never_cache  # the response holds the only copy of the raw key
def api_token_create(request):
    name = request.POST.get("name", "")
    try:
        token, key = tokens.create_token(request.user, name)
    except tokens.TokenRefused as refused:
        return _profile(request, error=str(refused), token_name=name, status=400)
    return _profile(request, new_key=key, new_token=token)


@require_POST
def api_token_revoke(request, token_id):
    token = tokens.revoke_token(request.user, token_id)
    messages.success(request, f"Revoked the token “{token.name}” ({token.prefix}…): it no longer works.")
    return redirect("profile")
