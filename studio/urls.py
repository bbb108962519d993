from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from studio import accounts, sso, views
from studio.accounts import local_passwords_only

User = get_user_model()
handler500 = "studio.outage.server_error"

urlpatterns = [
    path("api/v1/", include("studio.api_urls")),
    path("", include("annotation.urls")),
    path("", include("training.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("people/", views.user_list, name="user_list"),
    path("people/invite/", views.user_invite, name="user_invite"),
    path("people/events/", views.user_events, name="user_events"),
    path("people/access/", views.access_entries, name="access_log"),
    path("people/access/export/", views.access_entries_csv, name="access_log_csv"),
    path("people/<int:user_id>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("people/<int:user_id>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path("people/<int:user_id>/reset/", views.user_reset, name="user_reset"),
    path("people/<int:user_id>/project-creation/", views.user_project_creation, name="user_project_creation"),
    path("profile/", views.profile, name="profile"),
    path("profile/tokens/", views.api_token_create, name="api_token_create"),
    path("profile/tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", accounts.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", views.two_factor_verify, name="two_factor_verify"),
    path("profile/two-factor/", views.two_factor_setup, name="two_factor_setup"),
    path("oidc/authenticate/", login_not_required(sso.AuthenticateView.as_view()), name="oidc_authentication_init"),
    path("oidc/callback/", login_not_required(sso.CallbackView.as_view()), name="oidc_authentication_callback"),
    path(
        "accounts/password-reset/",
        local_passwords_only(accounts.ThrottledPasswordResetView.as_view()),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        local_passwords_only(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        local_passwords_only(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        local_passwords_only(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    # The admin's own pages that take or set a password, under the same rule.
    path("admin/login/", login_not_required(local_passwords_only(admin.site.login))),
    path("admin/password_change/", local_passwords_only(admin.site.admin_view(admin.site.password_change))),
    path(
        "admin/auth/user/<id>/password/",
        local_passwords_only(admin.site.admin_view(admin.site.get_model_admin(User).user_change_password)),
    ),
    path("admin/", admin.site.urls),
]
