"""Login, password reset and a person's own settings (language)."""

from django.contrib.auth import views as auth_views

from perfcycle.forms import EmailAuthenticationForm


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    email_template_name = "registration/password_reset_email.txt"
    html_email_template_name = "registration/password_reset_email.html"
    subject_template_name = "registration/password_reset_subject.txt"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    pass


def profile(request):
    raise NotImplementedError


def set_language(request):
    raise NotImplementedError
