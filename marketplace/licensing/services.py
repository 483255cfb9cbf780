"""Quotes, orders and licences. Each public function owns its transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.http import Http404
from django.utils import timezone

from ledger.money import Money
from marketplace.catalog.models import CorpusStatus, Offer, OfferStatus, OfferVersion
from marketplace.events.services import event_record
from marketplace.finance import postings
from marketplace.licensing.certificates import certificate_issue, terms_hash
from marketplace.licensing.models import (
    Licence,
    LicenceStatus,
    Order,
    OrderStatus,
    PaymentMethod,
    Quote,
)
from marketplace.licensing.owners import licence_owner_weights
from marketplace.licensing.scope import clean_scope, scope_assets
from marketplace.orgs.models import Organisation, OrgKind
from marketplace.pricing import METRICS, PricePlan
from marketplace.pricing import quote as price_quote

REFUSED_MESSAGE = "This licensor does not license to your organisation."


def _live_version(offer_id: int) -> OfferVersion:
    offer = (
        Offer.objects.select_related("corpus__organisation")
        .filter(pk=offer_id, status=OfferStatus.PUBLISHED, corpus__status=CorpusStatus.PUBLISHED)
        .first()
    )
    version = offer and offer.versions.filter(published=True).order_by("-number").first()
    if version is None:
        raise Http404("No such offer in the catalogue")
    return version


def _money(amount: int, currency: str) -> str:
    return Money(amount, currency).format()


def quote_create(*, licensee: Organisation, offer_id: int, scope) -> Quote:
    """Price an offer for a scope. The breakdown says what is due now and what usage would cost."""
    if licensee.kind != OrgKind.LICENSEE:
        raise PermissionDenied("Only licensees can ask for quotes.")
    version = _live_version(offer_id)
    if version.refused_licensees.filter(pk=licensee.pk).exists():
        raise PermissionDenied(REFUSED_MESSAGE)
    scope = clean_scope(scope)
    corpus = version.offer.corpus
    totals = scope_assets(corpus, scope).aggregate(
        n=Count("id"), seconds=Sum("duration_seconds"), size=Sum("size_bytes")
    )
    if not totals["n"]:
        raise ValidationError({"scope": "No active asset matches this scope."})
    plan = PricePlan.from_dict(version.price_plan)
    seconds = totals["seconds"] or Decimal(0)
    lines = []
    if plan.flat_fee:
        lines.append({"label": "Licence fee", "amount": plan.flat_fee, "due_now": True})
    if plan.minimum_guarantee:
        lines.append(
            {
                "label": "Minimum guarantee, paid in advance and drawn down by usage",
                "amount": plan.minimum_guarantee,
                "due_now": True,
            }
        )
    if plan.prepaid_commitment:
        lines.append(
            {"label": "Prepaid commitment, drawn down by usage", "amount": plan.prepaid_commitment, "due_now": True}
        )
    estimate = None
    if plan.metric:
        quantity = {
            "hours": Fraction(Decimal(seconds)) / 3600,
            "assets": Fraction(totals["n"]),
            "gb": Fraction(totals["size"] or 0, 10**9),
        }[plan.metric]
        usage = price_quote(plan, quantity).usage
        estimate = {
            "metric": plan.metric,
            "quantity": str(round(Decimal(quantity.numerator) / Decimal(quantity.denominator), 6)),
            "amount": usage,
            "formatted": _money(usage, plan.currency),
            "note": f"Usage is billed as it happens, per {METRICS[plan.metric]}; this is the charge if every "
            "asset in scope is delivered once.",
        }
    due_now = plan.flat_fee + plan.minimum_guarantee + plan.prepaid_commitment
    breakdown = {
        "lines": [{**line, "formatted": _money(line["amount"], plan.currency)} for line in lines],
        "due_now": due_now,
        "due_now_formatted": _money(due_now, plan.currency),
        "usage_estimate": estimate,
        "commission_bp": version.commission_bp,
    }
    return Quote.objects.create(
        licensee=licensee,
        offer_version=version,
        corpus=corpus,
        scope=scope,
        asset_count=totals["n"],
        total_seconds=seconds,
        total_bytes=totals["size"] or 0,
        currency=plan.currency,
        breakdown=breakdown,
        due_now=due_now,
        expires_at=timezone.now() + dt.timedelta(hours=settings.QUOTE_TTL_HOURS),
    )


def order_create(*, licensee: Organisation, quote_id: str, payment_method: str) -> tuple[Order, str | None]:
    """Order a quote. Returns the order and, for card payments, the PaymentIntent's client secret.

    On account (for licensees the operator approved for invoicing) and for free licences, the licence is
    issued at once. By card, it is issued when Stripe reports the payment succeeded.
    """
    if payment_method not in PaymentMethod.values:
        raise ValidationError({"payment_method": f"Use one of: {', '.join(PaymentMethod.values)}."})
    with transaction.atomic():
        quote = Quote.objects.select_for_update().filter(public_id=quote_id, licensee=licensee).first()
        if quote is None:
            raise Http404("No such quote")
        if hasattr(quote, "order"):
            raise ValidationError({"quote": f"This quote was already ordered ({quote.order.public_id})."})
        if quote.expires_at <= timezone.now():
            raise ValidationError(
                {"quote": f"This quote expired at {quote.expires_at.isoformat()}; ask for a new one."}
            )
        if payment_method == PaymentMethod.ACCOUNT and not licensee.invoicing_approved:
            raise PermissionDenied("Your organisation is not approved to buy on account; pay by card.")
        version = quote.offer_version
        if version.offer.status != OfferStatus.PUBLISHED or version.offer.corpus.status != CorpusStatus.PUBLISHED:
            raise ValidationError({"quote": "The offer is no longer available."})
        # A refusal published after the quote stops the order: the quote keeps its price, not a right to buy.
        if _live_version(version.offer_id).refused_licensees.filter(pk=licensee.pk).exists():
            raise PermissionDenied(REFUSED_MESSAGE)
        order = Order.objects.create(
            licensee=licensee, quote=quote, payment_method=payment_method, amount=quote.due_now, currency=quote.currency
        )
        client_secret = None
        if payment_method == PaymentMethod.ACCOUNT or order.amount == 0:
            _issue(order, paid_in_advance=False)
        else:
            from marketplace.payments import gateway

            intent = gateway.payment_intent_create(
                amount=order.amount, currency=order.currency, order_id=order.public_id, licensee=licensee.party_ref
            )
            order.stripe_payment_intent = intent.id
            order.save(update_fields=["stripe_payment_intent"])
            client_secret = intent.client_secret
    return order, client_secret


def order_paid(*, payment_intent_id: str, amount: int, fee: int) -> Order | None:
    """Stripe says the payment succeeded: book the capture, then issue the licence. Safe to repeat."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(stripe_payment_intent=payment_intent_id).first()
        if order is None:
            return None
        postings.card_capture(
            key=f"stripe:{payment_intent_id}:captured",
            currency=order.currency,
            licensee=order.licensee.party_ref,
            amount=amount,
            fee=fee,
            metadata={"order": order.public_id, "payment_intent": payment_intent_id},
        )
        if order.status == OrderStatus.PENDING_PAYMENT:
            _issue(order, paid_in_advance=True)
    return order


def order_payment_failed(*, payment_intent_id: str) -> Order | None:
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(stripe_payment_intent=payment_intent_id).first()
        if order is not None and order.status == OrderStatus.PENDING_PAYMENT:
            order.status = OrderStatus.FAILED
            order.save(update_fields=["status"])
    return order


def _issue(order: Order, *, paid_in_advance: bool) -> Licence:
    quote = order.quote
    version = quote.offer_version
    now = timezone.now()
    licence = Licence.objects.create(
        order=order,
        licensee=order.licensee,
        licensor=quote.corpus.organisation,
        corpus=quote.corpus,
        offer_version=version,
        scope=quote.scope,
        terms_hash="",
        starts_at=now,
        ends_at=now + dt.timedelta(days=round(30.4375 * version.term_months)),
    )
    licence.terms_hash = terms_hash(licence)
    licence.save(update_fields=["terms_hash"])
    assets = scope_assets(quote.corpus, quote.scope).values("id")
    sql, params = assets.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO licensing_licenceasset (licence_id, asset_id) SELECT %s, q.id FROM ({sql}) q",
            [licence.pk, *params],
        )
    certificate_issue(licence)
    plan = PricePlan.from_dict(version.price_plan)
    postings.licence_sale(
        key=f"order:{order.public_id}:sale",
        description=f"Licence {licence.public_id} sold: {quote.corpus.title}",
        currency=order.currency,
        licensee=order.licensee.party_ref,
        upfront_fee=plan.flat_fee,
        prepaid=plan.minimum_guarantee + plan.prepaid_commitment,
        commission_bp=version.commission_bp,
        owners=licence_owner_weights([licence.pk])[licence.pk],
        paid_in_advance=paid_in_advance,
        metadata={"order": order.public_id, "licence": licence.public_id, "offer_version": version.pk},
    )
    order.status = OrderStatus.COMPLETED
    order.completed_at = now
    order.save(update_fields=["status", "completed_at"])
    event_record(
        type="licence.issued",
        organisation=order.licensee,
        subject=f"licence:{licence.public_id}",
        payload={"licence": licence.public_id, "licensee": order.licensee_id, "order": order.public_id},
    )
    return licence


EXPIRING_NOTICE = dt.timedelta(days=7)


def licences_expire(now: dt.datetime | None = None) -> tuple[int, int]:
    """Expire licences whose term has ended, and warn about those ending within a week. Safe to repeat."""
    now = now or timezone.now()
    expired = warned = 0
    with transaction.atomic():
        for licence in Licence.objects.select_for_update(skip_locked=True).filter(
            status=LicenceStatus.ACTIVE, ends_at__lte=now
        ):
            licence.status = LicenceStatus.EXPIRED
            licence.status_changed_at = now
            licence.save(update_fields=["status", "status_changed_at"])
            event_record(
                type="licence.expired",
                organisation=licence.licensee,
                subject=f"licence:{licence.public_id}",
                payload={
                    "licence": licence.public_id,
                    "licensee": licence.licensee_id,
                    "ended_at": licence.ends_at.isoformat(),
                },
            )
            expired += 1
        soon = Licence.objects.select_for_update(skip_locked=True).filter(
            status=LicenceStatus.ACTIVE, ends_at__lte=now + EXPIRING_NOTICE, expiring_notified_at__isnull=True
        )
        for licence in soon:
            licence.expiring_notified_at = now
            licence.save(update_fields=["expiring_notified_at"])
            event_record(
                type="licence.expiring",
                organisation=licence.licensee,
                subject=f"licence:{licence.public_id}",
                payload={
                    "licence": licence.public_id,
                    "licensee": licence.licensee_id,
                    "ends_at": licence.ends_at.isoformat(),
                },
            )
            warned += 1
    return expired, warned
