"""Delivery (manifests, signed links, metered downloads) and usage reporting."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace.catalog.models import Asset
from marketplace.catalog.services import withdrawals
from marketplace.licensing import delivery
from marketplace.licensing.models import Licence
from marketplace.usage.models import UsageEvent
from tests.fixtures.api import buy


@pytest.fixture
def licence(market, buyer):
    _, api = buyer
    return Licence.objects.get(public_id=buy(api, market["hourly"])["licence"])


def manifest(api, licence, **params):
    return api.get(f"/api/v1/licences/{licence.public_id}/manifest/", params)


def test_manifest_lists_files_with_signed_links(buyer, licence):
    _, api = buyer
    page = manifest(api, licence, limit=3).json()
    assert [item["external_id"] for item in page["results"]] == ["m0", "m1", "m2"]
    assert page["manifest_version"] == 0
    assert page["results"][0]["download_url"].startswith("http://testserver/api/v1/downloads/")
    rest = api.get(page["next"]).json()
    assert [item["external_id"] for item in rest["results"]] == ["m3", "m4"]


def test_download_streams_the_file_and_meters_it_once_per_link(buyer, licence):
    _, api = buyer
    url = manifest(api, licence).json()["results"][0]["download_url"]
    first = api.get(url)
    assert first.status_code == 200
    assert b"".join(first.streaming_content) == b"m0"
    api.get(url)  # a retried download of the same link
    events = UsageEvent.objects.filter(licence=licence).order_by("metric")
    assert [(e.metric, e.quantity, e.source) for e in events] == [
        ("assets_delivered", Decimal(1), "delivery"),
        ("bytes_delivered", Decimal(2), "delivery"),  # the bytes of the file sent
        ("seconds_delivered", Decimal(36), "delivery"),
    ]
    api.get(manifest(api, licence).json()["results"][0]["download_url"])  # a new link is a new delivery
    assert UsageEvent.objects.filter(licence=licence, metric="assets_delivered").count() == 2


def test_refused_downloads_say_why(licensor, market, buyer, other_buyer, licence):
    _, api = buyer
    _, other = other_buyer
    item = manifest(api, licence).json()["results"][1]
    response = other.get(item["download_url"])
    assert (response.status_code, response.json()["detail"]) == (404, "This download link belongs to another licensee.")
    token, _ = delivery.link_token(licence, item["id"], ttl=1)
    expired = delivery.link_read(token)
    assert expired.asset_id == item["id"]
    from unittest import mock

    with mock.patch.object(delivery.timezone, "now", return_value=timezone.now() + dt.timedelta(seconds=5)):
        response = api.get(f"/api/v1/downloads/{token}")
    assert response.status_code == 410
    assert "expired" in response.json()["detail"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert api.get(f"/api/v1/downloads/{forged}").status_code == 404
    withdrawals.assets_withdraw(
        access=licensor, corpus=market["corpus"], asset_ids=[item["id"]], reason="Likeness claim"
    )
    response = api.get(item["download_url"])
    assert response.status_code == 410
    assert "withdrawn by its rights holder" in response.json()["detail"]
    after = manifest(api, licence).json()
    assert item["external_id"] not in [i["external_id"] for i in after["results"]]
    assert after["manifest_version"] > 0
    assert not UsageEvent.objects.filter(asset_id=item["id"]).exists()


def test_usage_batch_stores_valid_items_and_names_each_bad_one(buyer, licence, market):
    _, api = buyer
    now = timezone.now()
    asset = Asset.objects.get(external_id="m0")
    base = {"licence": licence.public_id, "metric": "training_hours", "quantity": "1.5", "occurred_at": now.isoformat()}
    events = [
        {**base, "event_id": "e1", "asset": asset.pk},
        {**base, "event_id": "e2"},
        {**base, "event_id": "e1"},  # duplicate inside the batch
        {**base, "event_id": "e3", "licence": "lic_NOPE"},
        {**base, "event_id": "e4", "asset": 999_999},
        {**base, "event_id": "e5", "metric": "views"},
        {**base, "event_id": "e6", "quantity": "-2"},
        {**base, "event_id": "e7", "occurred_at": (now + dt.timedelta(hours=1)).isoformat()},
        {**base, "event_id": "e8", "occurred_at": (now - dt.timedelta(days=3)).isoformat()},
        {**base, "event_id": ""},
    ]
    result = api.post("/api/v1/usage/events/", {"events": events}, format="json").json()
    assert (result["received"], result["accepted"], result["duplicates"]) == (10, 2, 1)
    assert [(e["index"], e["field"]) for e in result["errors"]] == [
        (3, "licence"),
        (4, "asset"),
        (5, "metric"),
        (6, "quantity"),
        (7, "occurred_at"),
        (8, "occurred_at"),
        (9, "event_id"),
    ]
    assert "outside the licence term" in result["errors"][5]["message"]
    again = api.post("/api/v1/usage/events/", {"events": events[:2]}, format="json").json()
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert UsageEvent.objects.filter(licence=licence).count() == 2
    summary = api.get("/api/v1/usage/summary/", {"licence": licence.public_id}).json()
    assert summary["truncated"] is False
    assert summary["results"] == [
        {
            "licence": licence.public_id,
            "metric": "training_hours",
            "day": now.astimezone(dt.UTC).date().isoformat(),
            "quantity": "3.000000",
            "events": 2,
        },
    ]


def test_usage_batch_limits(buyer, licence, settings):
    _, api = buyer
    settings.USAGE_BATCH_LIMIT = 3
    response = api.post("/api/v1/usage/events/", {"events": [{}] * 4}, format="json")
    assert response.status_code == 400
    assert "at most 3 events" in response.json()["errors"]["events"][0]
    assert api.post("/api/v1/usage/events/", {"wrong": []}, format="json").status_code == 400
