from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio import access_log, health, sso, tokens, two_factor, users
from studio.audit import describe


@require_GET
@never_cache
@login_not_required
def healthz(request):
    report = health.report()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def _staff_only(request):
    if not request.user.is_staff:
        raise PermissionDenied("Only staff manage people.")


def _people(request, *, handover=None):
    context = {
        "users": users.people(),
        "mail_delivered": users.delivers_mail() and settings.LOCAL_PASSWORDS,
        "local_passwords": settings.LOCAL_PASSWORDS,
        "sign_on_name": settings.OIDC_PROVIDER_NAME,
        "handover": handover,
        "link_days": settings.PASSWORD_RESET_TIMEOUT // 86400,
    }
    return render(request, "studio/user_list.html", context)


@require_GET
def user_list(request):
    _staff_only(request)
    return _people(request)


@require_POST
@never_cache  # the answer may hold a set-password link, shown to this staff member only
def user_invite(request):
    _staff_only(request)
    try:
        user, link = users.invite(
            request,
            username=request.POST.get("username", ""),
            email=request.POST.get("email", ""),
            is_staff=request.POST.get("is_staff") == "on",
        )
    except users.UserRefused as refused:
        messages.error(request, str(refused))
        return redirect("user_list")
    if link:
        return _people(request, handover={"user": user, "link": link, "purpose": "invitation"})
    if not settings.LOCAL_PASSWORDS:
        messages.success(request, f"Added {user.get_username()}: they sign in with {settings.OIDC_PROVIDER_NAME}.")
        return redirect("user_list")
    messages.success(request, f"Invited {user.get_username()}: a set-password link went to {user.email}.")
    return redirect("user_list")


@require_POST
@never_cache
def user_reset(request, user_id):
    _staff_only(request)
    user = get_object_or_404(get_user_model(), pk=user_id)
    try:
        link = users.send_reset(request, user)
    except users.UserRefused as refused:
        messages.error(request, str(refused))
        return redirect("user_list")
    if link:
        return _people(request, handover={"user": user, "link": link, "purpose": "reset"})
    messages.success(request, f"A password reset link went to {user.email}.")
    return redirect("user_list")


@require_http_methods(["GET", "POST"])
def user_deactivate(request, user_id):
    """A page that asks first (it works without JavaScript); the POST deactivates."""
    _staff_only(request)
    user = get_object_or_404(get_user_model(), pk=user_id)
    if request.method == "GET" and user != request.user:
        return render(request, "studio/user_deactivate.html", {"person": user})
    # A POST, or a GET for one's own account, which set_active refuses with its reason.
    return _change(request, user, users.set_active, False, f"{user.get_username()} is deactivated.")


@require_POST
def user_reactivate(request, user_id):
    _staff_only(request)
    user = get_object_or_404(get_user_model(), pk=user_id)
    return _change(request, user, users.set_active, True, f"{user.get_username()} is active again.")


@require_POST
def user_project_creation(request, user_id):
    _staff_only(request)
    user = get_object_or_404(get_user_model(), pk=user_id)
    allowed = request.POST.get("allowed") == "true"
    done = f"{user.get_username()} {'may now create' if allowed else 'no longer creates'} projects."
    return _change(request, user, users.allow_creating_projects, allowed, done)


def _change(request, user, change, value, done: str):
    try:
        change(request, user, value)
    except users.UserRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, done)
    return redirect("user_list")


EVENTS_PER_PAGE = 50


@require_GET
def user_events(request):
    _staff_only(request)
    chosen = {key: request.GET.get(key, "").strip() for key in ("kind", "user")}
    entries = users.events(kind=chosen["kind"], username=chosen["user"])
    page = Paginator(entries, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    users.name_accounts(page.object_list)
    for entry in page.object_list:
        entry.before_text, entry.after_text = describe(entry.before), describe(entry.after)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "kinds": [(key, name) for key, (name, _condition) in users.EVENT_KINDS.items()],
        "chosen": chosen,
        "query": query.urlencode(),
    }
    return render(request, "studio/user_events.html", context)


ACCESS_FILTERS = ("user", "document", "since", "until")


def _access_entries(request):
    """The filters chosen on the access log page, the entries they select, and what is wrong
    with them (then no entry is selected)."""
    chosen = {key: request.GET.get(key, "").strip() for key in ACCESS_FILTERS}
    try:
        return chosen, access_log.entries(**chosen), ""
    except access_log.FilterProblem as problem:
        return chosen, access_log.AccessEntry.objects.none(), str(problem)


@require_GET
def access_entries(request):
    _staff_only(request)
    chosen, found, problem = _access_entries(request)
    page = Paginator(found, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"page": page, "chosen": chosen, "problem": problem, "query": query.urlencode()}
    return render(request, "studio/access_log.html", context, status=400 if problem else 200)


@require_GET
def access_entries_csv(request):
    _staff_only(request)
    _chosen, found, problem = _access_entries(request)
    if problem:
        return HttpResponse(problem, status=400, content_type="text/plain")
    response = StreamingHttpResponse(access_log.csv_lines(found), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="access-log.csv"'
    return response


def _profile(request, *, new_key=None, new_token=None, error="", token_name="", status=200):
    context = {
        "memberships": request.user.memberships.select_related("project").order_by("project__name"),
        "tokens": request.user.api_tokens.all(),
        "new_key": new_key,
        "new_token": new_token,
        "error": error,
        "token_name": token_name,
        "api_base": request.build_absolute_uri("/api/v1/"),
        "signed_on": sso.signed_on(request),
        "sign_on_name": settings.OIDC_PROVIDER_NAME,
        "two_factor": two_factor.has_app(request.user),
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


@require_http_methods(["GET", "POST"])
@never_cache  # the page holds the app's secret, and then the only copy of the recovery codes
def two_factor_setup(request):
    if sso.signed_on(request):
        context = {"signed_on": True, "sign_on_name": settings.OIDC_PROVIDER_NAME}
        return render(request, "studio/two_factor_setup.html", context)
    error = ""
    if request.method == "POST":
        try:
            codes = two_factor.confirm(request, request.POST.get("code", ""))
        except two_factor.CodeRefused as refused:
            error = str(refused)
        else:
            return render(request, "studio/two_factor_codes.html", {"codes": codes, "next": _next(request)})
    device = two_factor.enrolment_device(request)
    context = {
        "enrolled": two_factor.has_app(request.user),
        "required": settings.STAFF_REQUIRE_2FA and request.user.is_staff,
        "device": device,
        "qr_code": two_factor.qr_code(device),
        "secret": two_factor.secret(device),
        "error": error,
        "next": _next(request),
    }
    return render(request, "studio/two_factor_setup.html", context, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
@never_cache
def two_factor_verify(request):
    if request.session.get(two_factor.PENDING) != two_factor.VERIFY:
        return redirect(_next(request))
    error = ""
    if request.method == "POST":
        try:
            note = two_factor.verify(request, request.POST.get("code", ""))
        except two_factor.CodeRefused as refused:
            error = str(refused)
        else:
            if note:
                messages.info(request, note)
            return redirect(_next(request))
    context = {"error": error, "next": _next(request)}
    return render(request, "registration/two_factor_verify.html", context, status=400 if error else 200)


def _next(request) -> str:
    """The page a log-in was on its way to, when it is on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("home")
