from django import forms
from django.contrib.auth.password_validation import validate_password

from marketplace.orgs.models import Role


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)  # RFC 5321's limit, and the stored column's
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args, roles: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if roles is not None:  # only the roles this member may give
            self.fields["role"].choices = roles

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if len(email.rpartition("@")[0]) > 64:
            raise forms.ValidationError("An email address has at most 64 characters before the @.")
        return email


class RegisterForm(forms.Form):
    full_name = forms.CharField(max_length=150, required=False, label="Your name")
    password = forms.CharField(widget=forms.PasswordInput, help_text="At least 8 characters, not a common password.")
    password_again = forms.CharField(widget=forms.PasswordInput, label="Password again")

    def clean_password(self):
        password = self.cleaned_data["password"]
        validate_password(password)
        return password

    def clean(self):
        # A typo in a password typed once would lock the new member out; typed twice, it is caught here.
        data = super().clean()
        if data.get("password") and data.get("password_again") not in (None, data["password"]):
            self.add_error("password_again", "The two passwords differ: type the same password twice.")
        return data
