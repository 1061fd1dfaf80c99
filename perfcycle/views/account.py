"""Login, password reset and change, and a person's own settings (language, digests)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from perfcycle import access, services
from perfcycle.forms import (
    DigestsForm,
    EmailAuthenticationForm,
    EmailPasswordResetForm,
    LanguageForm,
)


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    form_class = EmailPasswordResetForm
    email_template_name = "registration/password_reset_email.txt"
    html_email_template_name = "registration/password_reset_email.html"
    subject_template_name = "registration/password_reset_subject.txt"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("password_change_done")


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """The language and the digest setting, each saved by its own form."""
    user = request.user
    posted = request.POST if request.method == "POST" else None
    if posted is not None and posted.get("form") == "digests":
        return _save_digests(request)
    form = LanguageForm(posted, initial={"language": user.language})
    if posted is not None and form.is_valid():
        try:
            services.user_set_language(user=user, language=form.cleaned_data["language"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            response = redirect("profile")
            _remember_language(response, user.language)
            with translation.override(user.language or translation.get_language()):
                messages.success(request, _("Your language is saved."))
            return response
    return _render_profile(request, form=form)


def _render_profile(request, *, form=None, digests_form=None):
    user = request.user
    context = {
        "form": form or LanguageForm(initial={"language": user.language}),
        "digests_form": digests_form or DigestsForm(initial={"digests": user.digests}),
        "employee": access.roles(user).employee,
    }
    return render(request, "registration/profile.html", context)


def _save_digests(request):
    form = DigestsForm(request.POST)
    if not form.is_valid():  # a checkbox is always valid; kept for the pattern
        return _render_profile(request, digests_form=form)
    services.user_set_digests(user=request.user, digests=form.cleaned_data["digests"])
    if request.user.digests:
        messages.success(request, _("You will get daily digests."))
    else:
        messages.success(request, _("You will no longer get daily digests."))
    return redirect("profile")


@require_POST
def set_language(request):
    """Switch the language of the pages; a logged-in person keeps it in their profile."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest(_("Choose a language from the list."))
    if request.user.is_authenticated:
        services.user_set_language(user=request.user, language=language)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("home") if request.user.is_authenticated else reverse("login")
    response = HttpResponseRedirect(target)
    _remember_language(response, language)
    return response


def _remember_language(response, language: str) -> None:
    """The cookie carries the choice to pages seen before logging in (and the login page)."""
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    else:
        response.delete_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
