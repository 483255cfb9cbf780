"""Every /api/v1 route with an object in its path answers 404 to another organisation, whatever the method.

Routes are enumerated from the URL configuration, so a new route with a parameter this test does not know
fails it until the sweep is taught how to make a victim object for it.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from marketplace.catalog.models import Asset
from marketplace.catalog.services import corpora, withdrawals
from marketplace.invoicing.services import invoice_issue
from marketplace.licensing.models import Licence, Quote
from marketplace.orgs.models import OrgKind
from marketplace.webhooks.models import TakedownNotice, WebhookDelivery, WebhookEndpoint
from marketplace.webhooks.services import events_dispatch
from tests.fixtures.api import buy, key_client
from tests.fixtures.market import CORPUS_DATA, access_for, make_org


def api_routes() -> list[tuple[str, list[str]]]:
    api = next(p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and p.namespace == "api")
    return [(f"api:{p.name}", sorted(p.pattern.converters)) for p in api.url_patterns if isinstance(p, URLPattern)]


@pytest.fixture
def victim(market, buyer, licensor, receiver):
    """The buyer holds a quote, an order, a licence, a download link, an endpoint with a delivery, a notice;
    its licensor also has an unpublished corpus."""
    _, api = buyer
    order = buy(api, market["flat"])
    quote = api.post("/api/v1/quotes/", {"offer": market["hourly"].pk, "scope": {"type": "corpus"}}, format="json")
    endpoint = api.post(
        "/api/v1/webhook-endpoints/", {"url": receiver.url, "events": ["asset.withdrawn"]}, format="json"
    ).json()
    manifest = api.get(f"/api/v1/licences/{order['licence']}/manifest/").json()
    withdrawals.assets_withdraw(
        access=licensor, corpus=market["corpus"], asset_ids=[Asset.objects.get(external_id="m3").pk], reason="Claim"
    )
    events_dispatch()
    draft = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "title": "Unreleased rushes"})
    invoice = invoice_issue(licensee=buyer[0].organisation, currency="EUR", period=timezone.now().date())
    return {
        "invoice_id": invoice.public_id,
        "quote_id": quote.json()["id"],
        "order_id": order["id"],
        "licence_id": order["licence"],
        "token": manifest["results"][0]["download_url"].rsplit("/", 1)[1],
        "endpoint_id": endpoint["id"],
        "delivery_id": WebhookDelivery.objects.get().message_id,
        "notice_id": TakedownNotice.objects.get().public_id,
        "slug": draft.slug,
    }


def test_every_object_route_is_404_for_another_licensee(victim):
    org, owner = make_org("prowler-ai", OrgKind.LICENSEE)
    org.invoicing_approved = True
    org.save()
    attacker = key_client(access_for(org, owner))
    checked = []
    for name, params in api_routes():
        if not params:
            continue
        unknown = set(params) - set(victim)
        assert not unknown, f"{name} has parameters this sweep does not know: {unknown}"
        path = reverse(name, kwargs={p: victim[p] for p in params})
        statuses = {
            method: getattr(attacker, method)(path, {}, format="json").status_code
            for method in ("get", "post", "patch", "delete")
        }
        allowed = [code for code in statuses.values() if code != 405]
        assert allowed, f"{name}: no method allowed"
        assert set(allowed) == {404}, f"{name} {path}: {statuses}"
        checked.append(name)
    assert len(checked) >= 14, checked
    # Nothing was changed by the attempts.
    endpoint = WebhookEndpoint.objects.get(public_id=victim["endpoint_id"])
    assert endpoint.active and endpoint.previous_secret == ""
    assert TakedownNotice.objects.get(public_id=victim["notice_id"]).acknowledged_at is None
    assert Licence.objects.get(public_id=victim["licence_id"]).status == "active"
    assert Quote.objects.get(public_id=victim["quote_id"]).licensee.slug == "lumen"


def test_lists_hold_only_the_callers_objects(victim):
    org, owner = make_org("prowler-ai", OrgKind.LICENSEE)
    attacker = key_client(access_for(org, owner))
    for path in (
        "/api/v1/quotes/", "/api/v1/orders/", "/api/v1/licences/", "/api/v1/webhook-endpoints/",
        "/api/v1/takedowns/", "/api/v1/usage/summary/", "/api/v1/invoices/",
    ):  # fmt: skip
        response = attacker.get(path)
        assert response.status_code == 200, path
        assert response.json()["results"] == [], path
    assert "Unreleased rushes" not in attacker.get("/api/v1/corpora/").content.decode()
