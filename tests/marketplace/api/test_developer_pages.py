"""The licensee admin's web pages: API keys shown once, webhook endpoints, the delivery log, replay; the
licensee's licences and takedown acknowledgements, and the licensor seeing them."""

import pytest
from django.urls import reverse

from marketplace.api.models import ApiKey
from marketplace.catalog.models import Asset
from marketplace.catalog.services import withdrawals
from marketplace.orgs.models import Role
from marketplace.webhooks.models import TakedownNotice, WebhookDelivery, WebhookEndpoint
from marketplace.webhooks.services import delivery_send, events_dispatch
from tests.fixtures.api import buy
from tests.fixtures.market import add_member


@pytest.fixture
def admin_client(client, buyer):
    access, _ = buyer
    client.force_login(access.user)
    client.org = access.organisation
    return client


def url(name, client, **kwargs):
    return reverse(name, kwargs={"org_slug": client.org.slug, **kwargs})


def test_a_key_is_shown_once_and_works_until_revoked(admin_client):
    response = admin_client.post(url("developers:index", admin_client), {"name": "nightly ingest"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    assert secret.startswith("cf_live_") and secret in response.content.decode()
    key = ApiKey.objects.get(name="nightly ingest")
    assert key.secret_hash != secret and secret not in key.secret_hash
    listing = admin_client.get(url("developers:index", admin_client)).content.decode()
    assert key.prefix in listing and secret not in listing

    api = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert admin_client.get("/api/v1/licences/", **api).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert (
        "never"
        not in admin_client.get(url("developers:index", admin_client)).content.decode().split(key.prefix)[1][:400]
    )

    revoked = admin_client.post(url("developers:key_revoke", admin_client, key_id=key.public_id), follow=True)
    assert "is revoked" in revoked.content.decode()
    assert admin_client.get("/api/v1/licences/", **api).status_code == 401


def test_a_key_needs_a_name(admin_client):
    response = admin_client.post(url("developers:index", admin_client), {"name": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert not ApiKey.objects.filter(name="").exists()


def test_only_admins_manage_keys(client, buyer):
    access, _ = buyer
    viewer = add_member(access.organisation, "viewer@lumen.example", Role.VIEWER)
    client.force_login(viewer)
    assert client.get(reverse("developers:index", args=[access.organisation.slug])).status_code == 403
    response = client.post(reverse("developers:index", args=[access.organisation.slug]), {"name": "sneaky"})
    assert response.status_code == 403
    assert not ApiKey.objects.filter(name="sneaky").exists()


def test_licensors_have_no_developer_pages(client, licensor):
    client.force_login(licensor.user)
    assert client.get(reverse("developers:index", args=[licensor.organisation.slug])).status_code == 404


def test_endpoints_deliveries_and_replay_from_the_ui(admin_client, market, buyer, receiver):
    _, api = buyer
    bad = admin_client.post(url("developers:endpoint_create", admin_client), {"url": "ftp://x", "events": []})
    assert set(bad.context["form"].errors) == {"url", "events"}
    response = admin_client.post(
        url("developers:endpoint_create", admin_client), {"url": receiver.url, "events": ["licence.issued"]}
    )
    endpoint = WebhookEndpoint.objects.get(organisation=admin_client.org)
    assert response.status_code == 302
    assert response["Location"] == url("developers:endpoint", admin_client, endpoint_id=endpoint.public_id)

    receiver.statuses = [500]
    buy(api, market["flat"])
    events_dispatch()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    delivery_send(delivery.pk)
    page = admin_client.get(url("developers:endpoint", admin_client, endpoint_id=endpoint.public_id))
    body = page.content.decode()
    assert delivery.message_id in body and "HTTP 500" in body and endpoint.secret in body
    failed_only = admin_client.get(
        url("developers:endpoint", admin_client, endpoint_id=endpoint.public_id), {"status": "succeeded"}
    )
    assert delivery.message_id not in failed_only.content.decode()

    admin_client.post(url("developers:delivery_replay", admin_client, delivery_id=delivery.message_id))
    delivery_send(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 2, 200)

    old_secret = endpoint.secret
    admin_client.post(url("developers:endpoint_rotate", admin_client, endpoint_id=endpoint.public_id))
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret and endpoint.previous_secret == old_secret
    admin_client.post(url("developers:endpoint_toggle", admin_client, endpoint_id=endpoint.public_id))
    endpoint.refresh_from_db()
    assert endpoint.active is False


def test_takedown_acknowledged_in_the_ui_is_seen_by_the_licensor(client, admin_client, licensor, market, buyer):
    _, api = buyer
    licence_id = buy(api, market["flat"])["licence"]
    listing = admin_client.get(url("licensing:licence_list", admin_client)).content.decode()
    assert licence_id in listing
    detail = admin_client.get(url("licensing:licence", admin_client, licence_id=licence_id))
    assert detail.status_code == 200 and "Version 1" in detail.content.decode()
    certificate = admin_client.get(
        url("licensing:certificate_download", admin_client, licence_id=licence_id, version=1)
    )
    assert certificate.json()["certificate"]["licence_id"] == licence_id

    withdrawals.assets_withdraw(
        access=licensor, corpus=market["corpus"], asset_ids=[Asset.objects.get(external_id="m2").pk], reason="Dispute"
    )
    events_dispatch()
    notice = TakedownNotice.objects.get()
    admin_client.post(url("licensing:notice_acknowledge", admin_client, notice_id=notice.public_id))
    notice.refresh_from_db()
    assert notice.acknowledged_by == admin_client.org.memberships.first().user.email

    client.force_login(licensor.user)
    page = client.get(reverse("catalog:withdrawals", args=[licensor.organisation.slug])).content.decode()
    assert "Lumen" in page and "removed" in page and "awaiting" not in page
    sold = client.get(reverse("licensing:licence_list", args=[licensor.organisation.slug])).content.decode()
    assert licence_id in sold and "Licences granted" in sold


def test_a_licence_keeps_the_offer_name_it_was_bought_under(admin_client, licensor, market, buyer):
    from marketplace.catalog.services import offers
    from tests.fixtures.market import OFFER_DATA

    _, api = buyer
    licence_id = buy(api, market["flat"])["licence"]
    renamed = offers.offer_save(
        access=licensor,
        corpus=market["corpus"],
        offer=market["flat"],
        data={**OFFER_DATA, "name": "Flat, 24 months", "price_plan": {"metric": None, "flat_fee": 100_000}},
    )
    assert (renamed.number, renamed.name, str(renamed)) == (2, "Flat, 24 months", "Flat, 24 months v2")
    detail = admin_client.get(url("licensing:licence", admin_client, licence_id=licence_id)).content.decode()
    assert "Flat, version 1" in detail and "24 months" not in detail
    listed = {o["id"]: (o["name"], o["version"]) for o in api.get("/api/v1/offers/").json()["results"]}
    assert listed[market["flat"].pk] == ("Flat, 24 months", 2)
