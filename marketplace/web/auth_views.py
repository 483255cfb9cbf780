"""Signing in and out, and getting back in after a forgotten password: Django's views with our wording."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy


class SignInForm(AuthenticationForm):
    """The email is matched whatever its case (orgs.auth.EmailBackend); only the password is case-sensitive."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account. The password is case-sensitive; if you "
        "have forgotten it, reset it below.",
    }


class SignInView(auth_views.LoginView):
    authentication_form = SignInForm
    redirect_authenticated_user = True  # already signed in: straight on, not a second form


class SignOutView(auth_views.LogoutView):
    """Signing out is a POST (a link must not sign anyone out); a GET asks first instead of a bare 405."""

    http_method_names = ["get", "post", "options"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return render(request, "registration/logout_confirm.html")

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if signed_in:
            messages.info(request, "You are signed out.")
        return response


class ResetRequestForm(auth_views.PasswordResetForm):
    email = forms.EmailField(max_length=254, label="Your email")


class NewPasswordForm(SetPasswordForm):
    """The weak-password errors go under the password they are about, with the invitation form's wording."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = "At least 8 characters, not a common password."
        self.fields["new_password2"].label = "New password again"
        self.fields["new_password2"].help_text = ""

    def clean(self):
        self.validate_passwords("new_password1", "new_password2")
        self.validate_password_for_user(self.user, "new_password1")
        return forms.Form.clean(self)


password_reset = auth_views.PasswordResetView.as_view(
    form_class=ResetRequestForm,
    template_name="registration/reset_request.html",
    email_template_name="registration/reset_email.txt",
    subject_template_name="registration/reset_subject.txt",
    success_url=reverse_lazy("password_reset_done"),
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="registration/reset_sent.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    form_class=NewPasswordForm,
    template_name="registration/reset_confirm.html",
    success_url=reverse_lazy("password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(template_name="registration/reset_done.html")
