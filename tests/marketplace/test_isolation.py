"""Every organisation-scoped route returns 404 to anyone outside the organisation.

The routes are enumerated from the URL configuration, so a new route cannot
be forgotten: a route with a parameter this test does not know fails it.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from marketplace.api.keys import api_key_create
from marketplace.api.models import ApiKey
from marketplace.catalog.models import Asset, PreviewMedia
from marketplace.catalog.services import withdrawals
from marketplace.invoicing.services import invoice_issue
from marketplace.licensing import services as licensing
from marketplace.orgs.models import Invitation, Membership, Organisation, OrgKind
from marketplace.orgs.services import invitation_create
from marketplace.rating.models import RatingCharge
from marketplace.rating.services import rating_rate_all
from marketplace.statements.services import statement_issue
from marketplace.webhooks import services as webhooks
from marketplace.webhooks.models import TakedownNotice, WebhookDelivery, WebhookEndpoint
from tests.fixtures.market import access_for, import_rows, make_org, manifest_row
from tests.fixtures.rating import report


def org_routes() -> list[tuple[str, list[str]]]:
    found = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + (f"{p.namespace}:" if p.namespace else ""))
            elif isinstance(p, URLPattern) and "org_slug" in p.pattern.converters:
                found.append((prefix + p.name, sorted(p.pattern.converters)))

    walk(get_resolver().url_patterns)
    return found


@pytest.fixture
def victim(db, market, licensor):
    """A licensor and a licensee with one of everything: corpus, assets, import, offer, invitation, withdrawal;
    licence, certificate, API key, webhook endpoint, delivery and takedown notice."""
    from marketplace.catalog.services import corpora, offers
    from tests.fixtures.market import CORPUS_DATA, OFFER_DATA

    org, owner = make_org("victim-studio", OrgKind.LICENSOR)
    access = access_for(org, owner)
    corpus = corpora.corpus_create(access=access, data=CORPUS_DATA)
    mi = import_rows(access, corpus, [manifest_row("v1"), manifest_row("v2", rights_expiry="2020-01-31")])
    version = offers.offer_save(access=access, corpus=corpus, data=OFFER_DATA)
    asset = Asset.objects.get(corpus=corpus, external_id="v1")
    withdrawal = withdrawals.assets_withdraw(
        access=access, corpus=corpus, asset_ids=[asset.pk], reason="Claim received"
    )
    invitation = invitation_create(access=access, email="new@victim.example", role="viewer")
    from django.core.files.uploadedfile import SimpleUploadedFile

    png = SimpleUploadedFile("still.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png")
    preview = corpora.preview_add(access=access, corpus=corpus, upload=png, caption="Harbour")

    lab, lab_owner = make_org("victim-lab", OrgKind.LICENSEE)
    lab.invoicing_approved = True
    lab.save()
    lab_access = access_for(lab, lab_owner)
    quote = licensing.quote_create(licensee=lab, offer_id=market["flat"].pk, scope={"type": "corpus"})
    order, _ = licensing.order_create(licensee=lab, quote_id=quote.public_id, payment_method="account")
    key, _ = api_key_create(access=lab_access, name="victim pipeline")
    endpoint = webhooks.endpoint_create(
        organisation=lab, url="https://hooks.victim.example/in", events=["asset.withdrawn"]
    )
    withdrawals.assets_withdraw(
        access=licensor,
        corpus=market["corpus"],
        asset_ids=[Asset.objects.get(external_id="m1").pk],
        reason="Claim received",
    )
    webhooks.events_dispatch()
    hourly = licence_on_offer(lab, market["hourly"])
    report(hourly, [("seconds_delivered", 360, "m0")])
    rating_rate_all()
    invoice = invoice_issue(licensee=lab, currency="EUR", period=timezone.now().date())
    statement = statement_issue(
        party=market["corpus"].organisation.party_ref, currency="EUR", period=timezone.now().date()
    )
    return {
        "statement_id": statement.public_id, "kind": "pdf",
        "charge_id": RatingCharge.objects.get(licence=hourly).pk, "invoice_id": invoice.public_id,
        "org_slug": org.slug, "corpus_id": corpus.pk, "import_id": mi.pk, "offer_id": version.offer_id,
        "asset_id": asset.pk, "invitation_id": invitation.pk, "preview_id": preview.pk, "withdrawal_id": withdrawal.pk,
        "membership_id": access.membership.pk,
        "licensee_slug": lab.slug, "licence_id": order.licence.public_id, "version": 1, "key_id": key.public_id,
        "endpoint_id": endpoint.public_id, "delivery_id": WebhookDelivery.objects.get(endpoint=endpoint).message_id,
        "notice_id": TakedownNotice.objects.get(licence=order.licence).public_id,
    }  # fmt: skip


def licence_on_offer(licensee, offer):
    quote = licensing.quote_create(licensee=licensee, offer_id=offer.pk, scope={"type": "corpus"})
    return licensing.order_create(licensee=licensee, quote_id=quote.public_id, payment_method="account")[0].licence


def test_routes_are_enumerated():
    names = {name for name, _ in org_routes()}
    assert {"catalog:corpus", "catalog:import", "catalog:offer_edit", "orgs:members", "catalog:review"} <= names
    assert {"developers:index", "developers:endpoint", "licensing:licence", "licensing:notice_acknowledge"} <= names
    assert {"rating:charge", "rating:charge_events_csv", "invoicing:invoice", "invoicing:invoice_pdf"} <= names
    assert {"statements:detail", "statements:download", "payouts:settings", "payouts:stripe_onboard"} <= names


@pytest.mark.parametrize("attacker_kind", [OrgKind.LICENSOR, OrgKind.LICENSEE, OrgKind.OPERATOR])
def test_another_organisation_gets_404_on_every_route(client, victim, attacker_kind):
    attacker_org, attacker = make_org(f"attacker-{attacker_kind}", attacker_kind)
    delivery_due = WebhookDelivery.objects.get(message_id=victim["delivery_id"]).next_attempt_at
    client.force_login(attacker)
    checked = 0
    for name, params in org_routes():
        unknown = set(params) - set(victim)
        assert not unknown, f"{name} has parameters this sweep does not know: {unknown}"
        for slug in (victim["org_slug"], victim["licensee_slug"], attacker_org.slug):  # theirs, and ours with their ids
            kwargs = {p: victim[p] for p in params}
            kwargs["org_slug"] = slug
            if slug == attacker_org.slug and len(params) == 1:
                continue  # our own list pages are ours to see
            url = reverse(name, kwargs=kwargs)
            statuses = {method: getattr(client, method)(url).status_code for method in ("get", "post")}
            allowed = [code for code in statuses.values() if code != 405]
            assert allowed, f"{name}: no method allowed"
            assert set(allowed) == {404}, f"{name} {url}: {statuses}"
            checked += 1
    assert checked > 20
    # And nothing changed.
    assert Asset.objects.filter(corpus_id=victim["corpus_id"], status="active").count() == 1
    assert Invitation.objects.get(pk=victim["invitation_id"]).revoked_at is None
    assert ApiKey.objects.get(public_id=victim["key_id"]).revoked_at is None
    endpoint = WebhookEndpoint.objects.get(public_id=victim["endpoint_id"])
    assert endpoint.active and endpoint.previous_secret == ""
    assert WebhookDelivery.objects.get(message_id=victim["delivery_id"]).next_attempt_at == delivery_due
    assert TakedownNotice.objects.get(public_id=victim["notice_id"]).acknowledged_at is None
    assert PreviewMedia.objects.filter(pk=victim["preview_id"]).exists()
    assert Membership.objects.get(pk=victim["membership_id"]).role == "owner"


def test_anonymous_visitors_are_sent_to_sign_in(client, victim):
    response = client.get(
        reverse("catalog:corpus", kwargs={"org_slug": victim["org_slug"], "corpus_id": victim["corpus_id"]})
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_each_route_opens_for_the_organisation_that_owns_the_ids(client, victim, licensor, operator):
    """The sweep above only means something if the pages it finds closed to outsiders open to their owners."""
    slugs = [victim["org_slug"], victim["licensee_slug"], licensor.organisation.slug, operator.organisation.slug]
    owners = {
        org.slug: Membership.objects.get(organisation=org, role="owner").user
        for org in Organisation.objects.filter(slug__in=slugs)
    }
    opened = {}
    for name, params in org_routes():
        statuses = {}
        for slug, owner in owners.items():
            client.force_login(owner)
            kwargs = {p: victim[p] for p in params} | {"org_slug": slug}
            statuses[slug] = client.get(reverse(name, kwargs=kwargs)).status_code
        if set(statuses.values()) == {405}:
            continue  # a form's action, posted to only
        opened[name] = statuses
    closed = {name for name, statuses in opened.items() if set(statuses.values()) == {404}}
    # Closed to their owners too, for what the victim holds: its corpus is a draft, in no operator's queue, and its
    # one import leaves nothing missing.
    assert closed == {"catalog:review", "catalog:import_missing_csv"}
    assert len(opened) > 20, opened
