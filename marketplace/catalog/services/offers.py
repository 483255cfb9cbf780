"""Licence offers and their versions.

A draft offer is edited in place. Editing a published offer creates the next
version, published at once; licences keep the version they were bought on.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from marketplace.catalog.models import Corpus, CorpusStatus, Offer, OfferStatus, OfferVersion
from marketplace.catalog.services.corpora import IN_REVIEW_MESSAGE
from marketplace.catalog.services.listing import corpus_refresh_price
from marketplace.catalog.vocab import PERMITTED_USES, territory_beyond, territory_codes, territory_problem
from marketplace.orgs.access import OrgAccess, Perm
from marketplace.orgs.models import Organisation, OrgKind
from marketplace.pricing import PlanError, PricePlan

TERMS = (
    "permitted_uses", "term_months", "territory", "exclusive", "attribution", "output_restrictions",
    "no_identifiable_replicas", "no_verbatim_scenes", "no_derivative_works", "commission_bp", "currency",
    "price_plan",
)  # fmt: skip


def commission_bounds() -> tuple[int, int, int]:
    """(minimum, default, maximum) commission in basis points for this market."""
    return (
        getattr(settings, "MARKET_MIN_COMMISSION_BP", 1500),
        getattr(settings, "MARKET_DEFAULT_COMMISSION_BP", 2000),
        getattr(settings, "MARKET_MAX_COMMISSION_BP", 5000),
    )


def _validate(data: dict) -> tuple[dict, list[Organisation]]:
    errors: dict[str, str] = {}
    uses = list(data.get("permitted_uses") or [])
    if not uses:
        errors["permitted_uses"] = "Allow at least one use."
    elif any(u not in PERMITTED_USES for u in uses):
        errors["permitted_uses"] = f"Choose from: {', '.join(PERMITTED_USES)}."
    try:
        term = int(data.get("term_months") or 0)
        if not 1 <= term <= 120:
            raise ValueError
    except (TypeError, ValueError):
        errors["term_months"] = "The term is a whole number of months between 1 and 120."
        term = 0
    territory = territory_codes(data.get("territory"))
    problem = territory_problem(
        territory, missing="Give the territories where the licence applies, or WW for worldwide."
    )
    if problem:
        errors["territory"] = problem
    low, default, high = commission_bounds()
    try:
        commission = int(data.get("commission_bp", default))
        if not low <= commission <= high:
            raise ValueError
    except (TypeError, ValueError):
        errors["commission_bp"] = f"The commission must be between {low / 100:g}% and {high / 100:g}%."
        commission = default
    plan_data = dict(data.get("price_plan") or {})
    plan_data["currency"] = data.get("currency")
    try:
        plan = PricePlan.from_dict(plan_data)
        plan.check_for_sale()
    except PlanError as exc:
        for key, message in exc.errors.items():
            errors["currency" if key == "currency" else f"price_plan.{key}"] = message
        plan = None
    refused_slugs = [s for s in data.get("refused_licensees") or [] if s]
    refused = list(Organisation.objects.filter(kind=OrgKind.LICENSEE, slug__in=refused_slugs))
    if len(refused) != len(set(refused_slugs)):
        errors["refused_licensees"] = "Choose licensees from the list."
    if errors:
        raise ValidationError(errors)
    assert plan is not None
    clean = {
        "permitted_uses": uses,
        "term_months": term,
        "territory": territory,
        "exclusive": bool(data.get("exclusive")),
        "attribution": str(data.get("attribution") or "").strip(),
        "output_restrictions": str(data.get("output_restrictions") or "").strip(),
        "no_identifiable_replicas": bool(data.get("no_identifiable_replicas")),
        "no_verbatim_scenes": bool(data.get("no_verbatim_scenes")),
        "no_derivative_works": bool(data.get("no_derivative_works")),
        "commission_bp": commission,
        "currency": plan.currency,
        "price_plan": plan.to_dict(),
    }
    return clean, refused


def _validate_for(corpus: Corpus, data: dict) -> tuple[str, dict, list[Organisation]]:
    """Every rule on an offer's data for this corpus, all problems raised together."""
    problems: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        problems["name"] = ["Name the offer (for example 'Research licence, 12 months')."]
    clean, refused = {}, []
    try:
        clean, refused = _validate(data)
    except ValidationError as exc:
        problems |= exc.message_dict
    # Checked whatever else failed, so that one round names every problem.
    if "territory" not in problems and (
        beyond := territory_beyond(territory_codes(data.get("territory")), corpus.territory)
    ):
        problems["territory"] = [beyond]
    if problems:
        raise ValidationError(problems)
    return name, clean, refused


def offer_problems(data: dict, corpus: Corpus) -> dict[str, list[str]]:
    """The rules ``offer_save`` would refuse ``data`` for, by field: for a form that failed its own checks, so
    that one round shows every error."""
    try:
        _validate_for(corpus, data)
    except ValidationError as exc:
        return exc.message_dict
    return {}


@transaction.atomic
def offer_save(*, access: OrgAccess, corpus: Corpus, data: dict, offer: Offer | None = None) -> OfferVersion:
    access.require(Perm.MANAGE_CATALOG)
    corpus = Corpus.objects.select_for_update().get(pk=corpus.pk, organisation=access.organisation)
    if corpus.status == CorpusStatus.WITHDRAWN:
        raise ValidationError("A withdrawn corpus takes no offers.")
    if corpus.status == CorpusStatus.IN_REVIEW:
        raise ValidationError(IN_REVIEW_MESSAGE)
    name, clean, refused = _validate_for(corpus, data)
    if offer is None:
        offer = Offer.objects.create(corpus=corpus, name=name)
        version = OfferVersion(offer=offer, number=1, name=name, created_by=access.user, **clean)
    else:
        offer = Offer.objects.select_for_update().get(pk=offer.pk, corpus=corpus)
        if offer.status == OfferStatus.ARCHIVED:
            raise ValidationError("An archived offer cannot be edited.")
        offer.name = name
        offer.save(update_fields=["name"])
        latest = offer.versions.order_by("-number").first()
        if latest is not None and latest.published and _same_terms(latest, name, clean, refused):
            return latest  # saved without a change: no new version goes live
        if latest is not None and not latest.published:
            version = latest
            for key, value in {"name": name, **clean}.items():
                setattr(version, key, value)
        else:
            number = (latest.number if latest else 0) + 1
            version = OfferVersion(
                offer=offer, number=number, name=name, created_by=access.user, published=True,
                published_at=timezone.now(), **clean,
            )  # fmt: skip
    version.save()
    version.refused_licensees.set(refused)
    transaction.on_commit(lambda: corpus_refresh_price(corpus.pk))
    return version


def _same_terms(version: OfferVersion, name: str, clean: dict, refused: list[Organisation]) -> bool:
    return (
        version.name == name
        and all(getattr(version, key) == value for key, value in clean.items())
        and {o.pk for o in version.refused_licensees.all()} == {o.pk for o in refused}
    )


@transaction.atomic
def offer_publish(*, access: OrgAccess, offer: Offer) -> OfferVersion:
    access.require(Perm.MANAGE_CATALOG)
    offer = Offer.objects.select_for_update().get(pk=offer.pk, corpus__organisation=access.organisation)
    if offer.status == OfferStatus.ARCHIVED:
        raise ValidationError("An archived offer stays off sale; create a new offer to sell these terms again.")
    corpus_status = Corpus.objects.filter(pk=offer.corpus_id).values_list("status", flat=True).get()
    if corpus_status == CorpusStatus.WITHDRAWN:
        raise ValidationError("A withdrawn corpus takes no offers.")
    if corpus_status == CorpusStatus.IN_REVIEW:
        raise ValidationError(IN_REVIEW_MESSAGE)
    version = offer.versions.order_by("-number").first()
    if version is None:
        raise ValidationError("This offer has no terms yet.")
    if not version.published:
        version.published = True
        version.published_at = timezone.now()
        version.save(update_fields=["published", "published_at"])
    offer.status = OfferStatus.PUBLISHED
    offer.save(update_fields=["status"])
    corpus_refresh_price(offer.corpus_id)
    return version


@transaction.atomic
def offer_archive(*, access: OrgAccess, offer: Offer) -> Offer:
    access.require(Perm.MANAGE_CATALOG)
    offer = Offer.objects.select_for_update().get(pk=offer.pk, corpus__organisation=access.organisation)
    if Corpus.objects.filter(pk=offer.corpus_id, status=CorpusStatus.IN_REVIEW).exists():
        raise ValidationError(IN_REVIEW_MESSAGE)
    offer.status = OfferStatus.ARCHIVED
    offer.save(update_fields=["status"])
    corpus_refresh_price(offer.corpus_id)
    return offer
