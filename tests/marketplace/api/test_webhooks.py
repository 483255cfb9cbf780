"""Webhooks to licensees: signed, retried with backoff, logged, replayable, rotatable; takedown notices."""

import json

import pytest
from django.utils import timezone

from marketplace.catalog.models import Asset
from marketplace.catalog.services import withdrawals
from marketplace.webhooks import signing
from marketplace.webhooks.models import TakedownNotice, WebhookDelivery
from marketplace.webhooks.services import delivery_send, events_dispatch
from tests.fixtures.api import buy


@pytest.fixture
def endpoint(buyer, receiver):
    _, api = buyer
    response = api.post(
        "/api/v1/webhook-endpoints/",
        {"url": receiver.url, "events": ["licence.issued", "asset.withdrawn"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def send_all():
    events_dispatch()
    for delivery in WebhookDelivery.objects.filter(status="pending"):
        delivery_send(delivery.pk)


def test_licence_issued_is_delivered_signed(market, buyer, receiver, endpoint):
    _, api = buyer
    order = buy(api, market["flat"])
    send_all()
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert signing.verify(endpoint["secret"], request["headers"], request["body"])
    assert not signing.verify("whsec_" + "A" * 32, request["headers"], request["body"])
    payload = json.loads(request["body"])
    assert (payload["type"], payload["data"]["licence"]["id"]) == ("licence.issued", order["licence"])
    assert request["headers"]["webhook-id"] == payload["id"]
    log = api.get(f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries/").json()["results"]
    assert [(d["type"], d["status"], d["last_status_code"]) for d in log] == [("licence.issued", "succeeded", 200)]


def test_failures_are_retried_with_backoff_and_can_be_replayed(market, buyer, receiver, endpoint):
    _, api = buyer
    receiver.statuses = [500, 503]
    buy(api, market["flat"])
    send_all()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert (delivery.next_attempt_at - timezone.now()).total_seconds() > 5
    assert delivery_send(delivery.pk) is None  # not due yet
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    delivery_send(delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    delivery_send(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    assert [a.status_code for a in delivery.attempt_log.order_by("attempted_at")] == [500, 503, 200]
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert ids == {delivery.message_id}  # the same message id on every attempt
    replayed = api.post(f"/api/v1/webhook-deliveries/{delivery.message_id}/replay/")
    assert replayed.status_code == 202
    delivery_send(delivery.pk)
    assert len(receiver.requests) == 4


def test_rotating_the_secret_signs_with_both_for_a_while(market, buyer, receiver, endpoint):
    _, api = buyer
    rotated = api.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret/").json()
    assert rotated["secret"] != endpoint["secret"]
    buy(api, market["flat"])
    send_all()
    request = receiver.requests[0]
    assert len(request["headers"]["webhook-signature"].split()) == 2
    assert signing.verify(endpoint["secret"], request["headers"], request["body"])
    assert signing.verify(rotated["secret"], request["headers"], request["body"])


def test_private_addresses_are_refused_outside_development(buyer, settings):
    _, api = buyer
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    for url in ("https://127.0.0.1/hook", "https://10.0.0.5/hook", "https://localhost/hook", "http://example.com/hook"):
        response = api.post("/api/v1/webhook-endpoints/", {"url": url, "events": ["licence.issued"]}, format="json")
        assert response.status_code == 400, url
        assert "url" in response.json()["errors"]
    response = api.post(
        "/api/v1/webhook-endpoints/", {"url": "https://example.com/h", "events": ["nope"]}, format="json"
    )
    assert "events" in response.json()["errors"]


def test_takedown_reaches_the_licensee_who_acknowledges_it(licensor, market, buyer, receiver, endpoint):
    _, api = buyer
    licence_id = buy(api, market["flat"])["licence"]
    send_all()
    asset = Asset.objects.get(external_id="m1")
    withdrawal = withdrawals.assets_withdraw(
        access=licensor, corpus=market["corpus"], asset_ids=[asset.pk], reason="Likeness complaint"
    )
    send_all()
    payload = json.loads(receiver.requests[-1]["body"])
    assert payload["type"] == "asset.withdrawn"
    data = payload["data"]
    assert (data["licence"]["id"], data["asset_count"], data["external_ids"]) == (licence_id, 1, ["m1"])
    assert data["manifest_version"] == withdrawal.pk
    notices = api.get("/api/v1/takedowns/").json()["results"]
    assert [n["id"] for n in notices] == [data["takedown"]]
    ack = api.post(f"/api/v1/takedowns/{data['takedown']}/acknowledge/")
    assert ack.status_code == 200
    notice = TakedownNotice.objects.get()
    assert notice.acknowledged_at is not None
    assert notice.acknowledged_by.startswith("key ")


def test_endpoints_can_be_paused_and_updated(buyer, receiver, endpoint):
    _, api = buyer
    updated = api.patch(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/", {"events": ["usage.rated"]}, format="json"
    ).json()
    assert updated["events"] == ["usage.rated"]
    assert api.delete(f"/api/v1/webhook-endpoints/{endpoint['id']}/").status_code == 204
    assert api.get(f"/api/v1/webhook-endpoints/{endpoint['id']}/").json()["active"] is False
