from django import forms

from marketplace.webhooks.models import EVENT_TYPES


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What uses the key, for example 'training pipeline'. Shown in the key list."
    )


class EndpointForm(forms.Form):
    url = forms.URLField(
        assume_scheme="https",
        max_length=500,
        label="Endpoint URL",
        help_text="An https URL on the public internet that accepts POSTs.",
    )
    events = forms.MultipleChoiceField(
        choices=[(name, f"{name}: {label}") for name, label in EVENT_TYPES.items()],
        widget=forms.CheckboxSelectMultiple,
        label="Events to send",
    )
