"""Forms for the licensor's catalogue pages. They only shape input; services decide."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from ledger.money import CURRENCY_EXPONENTS, minor_units
from marketplace.catalog.manifest import shares_text
from marketplace.catalog.services.offers import commission_bounds
from marketplace.catalog.services.withdrawals import check_reason
from marketplace.catalog.vocab import CONTENT_RATINGS, CURRENCIES, GENRES, LANGUAGES, PERMITTED_USES
from marketplace.orgs.models import Organisation, OrgKind
from marketplace.pricing import MAX_PRICE_MINOR, METRICS


def _codes(value: str) -> list[str]:
    return [part.strip() for part in value.replace(",", " ").split() if part.strip()]


class CorpusForm(forms.Form):
    # As the page shows them, and so its error summary.
    field_order = [
        "title", "description", "languages", "territory", "content_rating", "genres", "chain_of_title", "co_owners",
    ]  # fmt: skip
    title = forms.CharField(max_length=200)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), help_text="At least a sentence: 20 characters or more."
    )
    languages = forms.CharField(
        help_text=f"BCP 47 codes separated by spaces, e.g. en fr pt-BR ({', '.join(sorted(LANGUAGES))})."
    )
    genres = forms.MultipleChoiceField(choices=list(GENRES.items()), widget=forms.CheckboxSelectMultiple)
    content_rating = forms.ChoiceField(choices=list(CONTENT_RATINGS.items()))
    territory = forms.CharField(help_text="ISO 3166-1 alpha-2 codes separated by spaces, or WW for worldwide.")
    chain_of_title = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="How you hold the rights: commissioned, acquired from whom, contributor agreements. At least a "
        "sentence: 20 characters or more.",
    )
    co_owners = forms.CharField(
        required=False,
        label="Royalty co-owners",
        help_text="If others share the rights, their organisations and percentages, e.g. "
        "northlight-studios:75; harbour-stock:25. They apply to every asset whose manifest row names no co-owners "
        "of its own. Leave empty if all royalties are yours.",
    )

    def __init__(self, *args, shares_editable: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not shares_editable:
            # Shown, but kept as stored: royalty shares decide who is paid (the service refuses a change too).
            self.fields["co_owners"].disabled = True
            self.fields[
                "co_owners"
            ].help_text = "Only an owner or admin of your organisation can change royalty shares."

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["languages"] = _codes(data["languages"])
        data["territory"] = _codes(data["territory"])
        return data

    def add_service_problems(self, problems: dict[str, list[str]]) -> None:
        """After the form's own checks failed: the service's rules for the fields that passed them."""
        for field, messages in problems.items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, messages)

    def partial_service_data(self) -> dict:
        """What service_data would be, with the fields that failed the form's checks left empty."""
        data = dict.fromkeys(self.fields, "") | dict(self.cleaned_data)
        data["languages"] = _codes(data["languages"] or "")
        data["territory"] = _codes(data["territory"] or "")
        return data

    @classmethod
    def initial_for(cls, corpus, changes: dict | None = None) -> dict:
        """The corpus' details, with ``changes`` (a revision waiting for review) over them: saving the form again
        must not drop what is waiting."""
        changes = changes or {}

        def value(name: str):
            return changes[name] if name in changes else getattr(corpus, name)

        return {
            "title": value("title"),
            "description": value("description"),
            "languages": " ".join(value("languages")),
            "genres": value("genres"),
            "content_rating": value("content_rating"),
            "territory": " ".join(value("territory")),
            "chain_of_title": value("chain_of_title"),
            "co_owners": shares_text(value("co_owners")),
        }


class ManifestUploadForm(forms.Form):
    file = forms.FileField(
        label="Manifest file",
        help_text="A .csv or .jsonl manifest, UTF-8; see the manifest format for its columns.",
    )


class PreviewForm(forms.Form):
    file = forms.FileField(
        label="Preview file",
        help_text="An image or a short clip.",
        error_messages={"required": "Choose a file to upload."},
    )
    caption = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        from marketplace.catalog.services.corpora import max_preview_bytes
        from marketplace.catalog.services.imports import human_size

        super().__init__(*args, **kwargs)
        limit = human_size(max_preview_bytes())
        self.fields["file"].help_text = f"An image (JPEG, PNG, WebP) or a short clip (MP4, WebM), up to {limit}."


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Recorded, shown to affected licensees.",
        error_messages={"required": "Say why: the reason is recorded and shown to affected licensees."},
    )


class WithdrawListForm(WithdrawForm):
    """Assets named by external id: pasted one per line, or a CSV file whose first column holds them."""

    field_order = ["external_ids", "ids_file", "reason"]  # as the page shows them, and so its error summary

    external_ids = forms.CharField(
        required=False,
        label="External ids",
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="One per line, as in your manifest (a column copied from a spreadsheet works too).",
    )
    ids_file = forms.FileField(
        required=False,
        label="Or a CSV file",
        help_text="Its first column holds the external ids; a header named external_id is skipped. A list "
        "downloaded from an import works as it is.",
    )

    def clean(self):
        cleaned = super().clean()
        # The first column of each line, once the line's own indent is gone: "\ta1" (an id indented with a tab) is
        # a1, not an empty first cell that would drop the id without a word.
        ids = [line.strip().split("\t", 1)[0].strip() for line in cleaned.get("external_ids", "").splitlines()]
        upload = cleaned.get("ids_file")
        if upload is not None:
            if upload.size > 5 * 2**20:
                self.add_error("ids_file", "The file is over 5 MB: a list of ids needs far less.")
                return cleaned
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("ids_file", "The file is not UTF-8 text: save it as CSV UTF-8.")
                return cleaned
            try:
                ids += [row[0].strip() for row in csv.reader(io.StringIO(text)) if row]
            except csv.Error as exc:
                self.add_error("ids_file", f"The file is not readable as CSV: {exc}.")
                return cleaned
        ids = [i for i in ids if i and i != "external_id"]
        if not ids and "ids_file" not in self.errors:
            self.add_error("external_ids", "List at least one external id, one per line, or choose a file.")
        if "reason" in cleaned:  # the service's rule on the reason, in the same round as the list's problems
            try:
                check_reason(cleaned["reason"])
            except ValidationError as exc:
                self.add_error("reason", exc.message_dict["reason"])
        cleaned["ids"] = ids
        return cleaned


class ReviewForm(forms.Form):
    # No default: a reason typed for a rejection must not publish the listing because the select said Approve.
    decision = forms.ChoiceField(
        choices=[("", "Choose…"), ("approve", "Approve and publish"), ("reject", "Send back to the licensor")],
        error_messages={"required": "Choose whether to approve the listing or send it back."},
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Note to the licensor",
        help_text="Required when sending back; the licensor sees it either way.",
    )


def _major(value, currency: str, field: str, errors: dict) -> int | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        errors[field] = f"{value!r} is not an amount."
        return None
    try:
        minor = minor_units(amount, currency)
    except ValueError as exc:
        errors[field] = str(exc)
        return None
    if abs(minor) > MAX_PRICE_MINOR:
        errors[field] = f"{value} {currency} is larger than the largest price an offer takes."
        return None
    return minor


class OfferForm(forms.Form):
    # The price plan's own fields: the editor's example pricing needs these and nothing else.
    PRICE_FIELDS = frozenset({
        "currency", "metric", "flat_fee", "tier_1_up_to", "tier_1_price", "tier_2_up_to", "tier_2_price",
        "tier_3_up_to", "tier_3_price", "tier_4_price", "minimum_guarantee", "prepaid_commitment", "overage_price",
        "usage_cap",
    })  # fmt: skip

    name = forms.CharField(max_length=120)
    permitted_uses = forms.MultipleChoiceField(
        choices=list(PERMITTED_USES.items()), widget=forms.CheckboxSelectMultiple
    )
    term_months = forms.IntegerField(min_value=1, max_value=120, initial=12, label="Term (months)")
    territory = forms.CharField(initial="WW", help_text="ISO 3166-1 alpha-2 codes, or WW for worldwide.")
    exclusive = forms.BooleanField(required=False)
    attribution = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    output_restrictions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="In plain words, for people."
    )
    no_identifiable_replicas = forms.BooleanField(
        required=False, initial=True, label="No replicas of identifiable people"
    )
    no_verbatim_scenes = forms.BooleanField(required=False, initial=True, label="No verbatim reproduction of scenes")
    no_derivative_works = forms.BooleanField(required=False, initial=True, label="No sequels or derivative works")
    refused_licensees = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="Licensees you refuse to deal with."
    )
    commission_percent = forms.DecimalField(
        min_value=0, max_value=100, decimal_places=2, initial=Decimal(20), label="Marketplace commission (%)"
    )
    currency = forms.ChoiceField(choices=[(c, c) for c in CURRENCIES])
    metric = forms.ChoiceField(
        choices=[("", "No usage pricing (flat fee only)")] + [(k, f"per {v}") for k, v in METRICS.items()],
        required=False,
    )
    flat_fee = forms.CharField(
        required=False, help_text="Paid once, when the licence is bought, in the currency chosen above."
    )
    tier_1_up_to = forms.CharField(required=False, label="Tier 1 up to (hours, assets or GB)")
    tier_1_price = forms.CharField(required=False)
    tier_2_up_to = forms.CharField(required=False, label="Tier 2 up to (hours, assets or GB)")
    tier_2_price = forms.CharField(required=False)
    tier_3_up_to = forms.CharField(required=False, label="Tier 3 up to (hours, assets or GB)")
    tier_3_price = forms.CharField(required=False)
    tier_4_price = forms.CharField(
        required=False,
        label="Price beyond the last tier",
        help_text="Needed with a usage metric: the rate for every unit, or past the tiers above. In the currency "
        "chosen above, per hour, asset or GB as the metric says.",
    )
    minimum_guarantee = forms.CharField(required=False)
    prepaid_commitment = forms.CharField(required=False)
    overage_price = forms.CharField(required=False, label="Overage price per unit past the commitment")
    usage_cap = forms.CharField(required=False, help_text="Units past which usage is recorded but not charged.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        low, default, high = commission_bounds()
        commission = self.fields["commission_percent"]
        commission.initial = Decimal(default) / 100
        commission.help_text = f"This market's range: {Decimal(low) / 100:g}% to {Decimal(high) / 100:g}%."
        commission.widget.attrs.update({"min": f"{Decimal(low) / 100:g}", "max": f"{Decimal(high) / 100:g}"})
        self.fields["refused_licensees"].choices = list(
            Organisation.objects.filter(kind=OrgKind.LICENSEE).order_by("name").values_list("slug", "name")
        )

    def service_data(self) -> dict:
        """The service's input, or ``{}`` with errors added to the form."""
        result, errors = self._build(self.cleaned_data)
        for field, message in errors.items():
            self.add_error(field, message)
        return {} if errors else result

    def partial_service_data(self) -> dict:
        """What service_data would be, with the values that failed a check left empty: for the service's own
        checks of everything else, so that one round shows every error (offers.offer_problems). Adds the
        amounts' problems to the form when its own checks stopped before them."""
        data = dict.fromkeys(self.fields) | {
            "permitted_uses": [], "refused_licensees": [], "territory": "", "name": ""
        } | {k: v for k, v in self.cleaned_data.items() if v is not None}  # fmt: skip
        if data.get("currency") not in CURRENCY_EXPONENTS:
            data["currency"] = "EUR"
        if data.get("commission_percent") is None:
            data["commission_percent"] = self.fields["commission_percent"].initial
        if data.get("term_months") is None:
            data["term_months"] = 0
        result, errors = self._build(data)
        for field, message in errors.items():  # the amounts' own problems, unless already named
            if field not in self.errors:
                self.add_error(field, message)
        return result

    def _build(self, data: dict) -> tuple[dict, dict[str, str]]:
        currency = data["currency"]
        errors: dict[str, str] = {}
        tiers = []
        self.tier_fields: list[tuple[str, str]] = []  # per tier sent: its "up to" and price fields
        for n in (1, 2, 3):
            up_to, price = data.get(f"tier_{n}_up_to"), data.get(f"tier_{n}_price")
            if up_to or price:
                if not up_to:
                    errors[f"tier_{n}_up_to"] = "Give the quantity where this tier ends, or leave the tier empty."
                if not price:  # a blank price is not a free tier
                    errors[f"tier_{n}_price"] = "Give this tier's price per unit."
                minor = _major(price, currency, f"tier_{n}_price", errors)
                tiers.append({"up_to": up_to, "unit_price": minor if minor is not None else 0})
                self.tier_fields.append((f"tier_{n}_up_to", f"tier_{n}_price"))
        last = _major(data.get("tier_4_price"), currency, "tier_4_price", errors)
        if data.get("metric"):
            if last is None and "tier_4_price" not in errors:
                errors["tier_4_price"] = "Give the price per unit (beyond the last tier, if any)."
            tiers.append({"up_to": None, "unit_price": last or 0})
            self.tier_fields.append(("tier_4_price", "tier_4_price"))
        if not data.get("metric") and (tiers or last is not None):
            errors["metric"] = "Choose what the prices count (hours, assets or GB), or clear them for a flat fee only."
        plan = {
            "metric": data.get("metric") or None,
            "tiers": tiers if data.get("metric") else [],
            "flat_fee": _major(data.get("flat_fee"), currency, "flat_fee", errors) or 0,
            "minimum_guarantee": _major(data.get("minimum_guarantee"), currency, "minimum_guarantee", errors) or 0,
            "prepaid_commitment": _major(data.get("prepaid_commitment"), currency, "prepaid_commitment", errors) or 0,
            "overage_unit_price": _major(data.get("overage_price"), currency, "overage_price", errors),
            "usage_cap": data.get("usage_cap") or None,
        }
        return {
            "name": data["name"],
            "permitted_uses": data["permitted_uses"],
            "term_months": data["term_months"],
            "territory": _codes(data["territory"]),
            "exclusive": data["exclusive"],
            "attribution": data["attribution"],
            "output_restrictions": data["output_restrictions"],
            "no_identifiable_replicas": data["no_identifiable_replicas"],
            "no_verbatim_scenes": data["no_verbatim_scenes"],
            "no_derivative_works": data["no_derivative_works"],
            "refused_licensees": data["refused_licensees"],
            "commission_bp": int(data["commission_percent"] * 100),
            "currency": currency,
            "price_plan": plan,
        }, errors

    # Service errors are keyed by service field names; map them onto form fields.
    SERVICE_FIELDS = {
        "commission_bp": "commission_percent",
        "price_plan.flat_fee": "flat_fee",
        "price_plan.metric": "metric",
        "price_plan.tiers": "tier_4_price",
        "price_plan.minimum_guarantee": "minimum_guarantee",
        "price_plan.prepaid_commitment": "prepaid_commitment",
        "price_plan.overage_unit_price": "overage_price",
        "price_plan.usage_cap": "usage_cap",
    }

    def _field_for(self, key: str) -> str | None:
        """The form field a service error's key is about; None for the form as a whole."""
        field = self.SERVICE_FIELDS.get(key)
        if field is None and key.startswith("price_plan.tiers."):
            # "tiers.N" is about tier N's bound, "tiers.N.unit_price" about its price. The service counts
            # the tiers it was sent: empty form tiers were skipped.
            index, _, part = key.removeprefix("price_plan.tiers.").partition(".")
            tier_fields = getattr(self, "tier_fields", [])
            up_to_field, price_field = (
                tier_fields[int(index)] if int(index) < len(tier_fields) else ("tier_4_price",) * 2
            )
            field = price_field if part == "unit_price" else up_to_field
        if field is None and key in self.fields:
            field = key
        return field

    def add_service_errors(self, errors: dict[str, list[str]], *, new_fields_only: bool = False) -> None:
        """``new_fields_only``: leave a field the form's own checks already flagged with its first message, rather
        than add the service's view of the same gap (a price that did not read is not also a missing price)."""
        flagged = set(self.errors) if new_fields_only else set()
        for key, messages in errors.items():
            field = self._field_for(key)
            if (field or NON_FIELD_ERRORS) in flagged:
                continue
            for message in messages:
                self.add_error(field, message)

    @classmethod
    def initial_for(cls, offer, version) -> dict:
        plan = version.price_plan
        exponent = CURRENCY_EXPONENTS[version.currency]

        def major(value):
            return "" if value in (None, 0) else f"{Decimal(value).scaleb(-exponent):.{exponent}f}"

        def major_or_zero(value):  # where 0 and absent differ: an overage of 0 is free, an absent one is the tier price
            return "" if value is None else f"{Decimal(value).scaleb(-exponent):.{exponent}f}"

        initial = {
            "name": offer.name,
            "permitted_uses": version.permitted_uses,
            "term_months": version.term_months,
            "territory": " ".join(version.territory),
            "exclusive": version.exclusive,
            "attribution": version.attribution,
            "output_restrictions": version.output_restrictions,
            "no_identifiable_replicas": version.no_identifiable_replicas,
            "no_verbatim_scenes": version.no_verbatim_scenes,
            "no_derivative_works": version.no_derivative_works,
            "refused_licensees": list(version.refused_licensees.values_list("slug", flat=True)),
            "commission_percent": version.commission_percent,
            "currency": version.currency,
            "metric": plan.get("metric") or "",
            "flat_fee": major(plan.get("flat_fee")),
            "minimum_guarantee": major(plan.get("minimum_guarantee")),
            "prepaid_commitment": major(plan.get("prepaid_commitment")),
            "overage_price": major_or_zero(plan.get("overage_unit_price")),
            "usage_cap": plan.get("usage_cap") or "",
        }
        tiers = plan.get("tiers") or []
        for n, tier in enumerate(tiers[:-1][:3], start=1):
            initial[f"tier_{n}_up_to"] = tier["up_to"]
            initial[f"tier_{n}_price"] = major(tier["unit_price"]) or "0"
        if tiers:
            initial["tier_4_price"] = major(tiers[-1]["unit_price"]) or "0"
        return initial
