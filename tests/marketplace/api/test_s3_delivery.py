"""Delivery from an S3 bucket through django-storages, as in production. S3 itself is moto's in-process
implementation of the S3 API (nothing S3-compatible runs on the test machines); boto3, django-storages and
our code are the real ones."""

import boto3
import pytest
from moto import mock_aws

from marketplace.catalog.models import Asset
from marketplace.usage.models import UsageEvent
from tests.fixtures.api import buy

BUCKET = "clearframe-delivery"


@pytest.fixture
def s3_delivery(settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        settings.STORAGES = {
            **settings.STORAGES,
            "delivery": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": BUCKET, "region_name": "us-east-1", "default_acl": None},
            },
        }
        yield boto3.client("s3", region_name="us-east-1")


def test_downloads_stream_from_the_bucket_and_are_metered(s3_delivery, market, buyer):
    _, api = buyer
    asset = Asset.objects.get(external_id="m0")
    assert s3_delivery.get_object(Bucket=BUCKET, Key="media/m1.mp4")["Body"].read() == b"m1"  # the fixture's
    s3_delivery.put_object(Bucket=BUCKET, Key="media/m0.mp4", Body=b"frames of m0")
    s3_delivery.delete_object(Bucket=BUCKET, Key="media/m1.mp4")
    licence = buy(api, market["flat"])["licence"]
    items = api.get(f"/api/v1/licences/{licence}/manifest/").json()["results"]
    link = next(i["download_url"] for i in items if i["id"] == asset.pk)
    response = api.get(link)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"frames of m0"
    metered = UsageEvent.objects.get(licence__public_id=licence, metric="bytes_delivered")
    assert metered.quantity == len(b"frames of m0")

    missing = next(i["download_url"] for i in items if i["external_id"] == "m1")
    refused = api.get(missing)
    assert refused.status_code == 503
    assert "not available in storage" in refused.json()["detail"]
