from django import forms
from django.contrib.auth.password_validation import validate_password

from marketplace.orgs.models import Role


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args, roles: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if roles is not None:  # only the roles this member may give
            self.fields["role"].choices = roles


class RegisterForm(forms.Form):
    full_name = forms.CharField(max_length=150, required=False, label="Your name")
    password = forms.CharField(widget=forms.PasswordInput, help_text="At least 8 characters, not a common password.")

    def clean_password(self):
        password = self.cleaned_data["password"]
        validate_password(password)
        return password
