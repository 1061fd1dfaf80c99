from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .views import account, health, home, imports, inbox, org

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    # Authentication: Django's views, our templates and forms.
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", account.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        account.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("profile/", account.profile, name="profile"),
    path("password/change/", account.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("language/", account.set_language, name="set_language"),
    # Notifications.
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/read-all/", inbox.mark_all_read, name="inbox_read_all"),
    path("inbox/<int:pk>/read/", inbox.mark_read, name="inbox_read"),
    # Organisation.
    path("org/departments/", org.department_tree, name="department_tree"),
    path("org/departments/<int:pk>/", org.department_detail, name="department_detail"),
    path(
        "org/departments/<int:pk>/children/",
        org.department_children,
        name="department_children",
    ),
    path("people/", org.directory, name="directory"),
    path("people/export.csv", org.directory_export, name="directory_export"),
    path("people/<int:pk>/", org.employee_profile, name="employee_profile"),
    path("org/import/", imports.org_import, name="org_import"),
    path("org/import/<int:pk>/", imports.org_import_detail, name="org_import_detail"),
    # Goals.
    path("goals/", include("goals.urls")),
    path("appraisals/", include("appraisals.urls")),
    # API.
    path("api/v1/", include("perfcycle.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as its own URL: no inline script.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
        name="api_docs",
    ),
    path("admin/", admin.site.urls),
]
