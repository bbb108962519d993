from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from studio import views
from studio.accounts import ThrottledPasswordResetView

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
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", ThrottledPasswordResetView.as_view(), name="password_reset"),
    path("accounts/password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("admin/", admin.site.urls),
]
