"""Forms for the operator's payout pages."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms

from ledger.money import minor_units
from marketplace.catalog.vocab import CURRENCIES
from marketplace.orgs.models import Organisation, OrgKind

MAX_ADVANCE = 10**11  # minor units: a bound well inside the ledger's integers, and any advance a market pays


class AdvanceForm(forms.Form):
    licensor = forms.ModelChoiceField(
        queryset=Organisation.objects.filter(kind=OrgKind.LICENSOR).order_by("name"), label="Rights holder"
    )
    currency = forms.ChoiceField(choices=[(c, c) for c in CURRENCIES])
    amount = forms.CharField(help_text="In the currency's units, e.g. 1500.00.")
    note = forms.CharField(max_length=300, help_text="The agreement it comes from; the rights holder sees it.")

    def clean(self):
        data = super().clean()
        amount, currency = data.get("amount"), data.get("currency")
        if amount is not None and currency:
            try:
                minor = minor_units(Decimal(amount.strip().replace(",", "")), currency)
            except (InvalidOperation, ValueError, OverflowError) as exc:
                self.add_error("amount", str(exc) if "decimal places" in str(exc) else f"{amount!r} is not an amount.")
            else:
                if not 0 < minor <= MAX_ADVANCE:
                    self.add_error("amount", "An advance is more than zero and at most 1,000,000,000 in its currency.")
                data["amount"] = minor
        return data
