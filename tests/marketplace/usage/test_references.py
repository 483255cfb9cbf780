"""The database itself keeps usage events pointing at a real licence of their licensee and a real asset,
in place of per-row foreign keys (docs/adr/0006-usage-references.md)."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.deletion import ProtectedError

from marketplace.catalog.models import Asset
from marketplace.licensing.models import Licence
from marketplace.usage.models import UsageEvent
from tests.fixtures.api import buy


@pytest.fixture
def licence(market, buyer):
    _, api = buyer
    return Licence.objects.get(public_id=buy(api, market["flat"])["licence"])


def insert(licensee_id, licence_id, asset_id, event_id="e1"):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO usage_usageevent (licensee_id, event_id, licence_id, asset_id, metric, quantity, occurred_at,"
            " received_at, source) VALUES (%s, %s, %s, %s, 'training_hours', 1, %s, %s, 'licensee_report')",
            [licensee_id, event_id, licence_id, asset_id, dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC)],
        )


def test_an_event_must_name_a_licence_of_its_licensee(licence, other_buyer):
    other, _ = other_buyer
    asset = Asset.objects.get(external_id="m0")
    insert(licence.licensee_id, licence.pk, asset.pk)
    with pytest.raises(IntegrityError, match="licen"):
        insert(other.organisation.pk, licence.pk, None, "e2")
    with pytest.raises(IntegrityError):
        insert(licence.licensee_id, 999_999, None, "e3")
    with pytest.raises(IntegrityError, match="asset"):
        insert(licence.licensee_id, licence.pk, 999_999, "e4")
    assert list(UsageEvent.objects.values_list("event_id", flat=True)) == ["e1"]


def test_events_cannot_be_repointed_and_their_licence_cannot_be_deleted(licence, other_buyer):
    insert(licence.licensee_id, licence.pk, None)
    with pytest.raises(IntegrityError), transaction.atomic():
        UsageEvent.objects.update(licence_id=licence.pk + 1)
    for table, pk in (("licensing_licence", licence.pk), ("orgs_organisation", licence.licensee_id)):
        with pytest.raises(IntegrityError, match="has usage events"), transaction.atomic(), connection.cursor() as c:
            c.execute(f"DELETE FROM {table} WHERE id = %s", [pk])
    with pytest.raises(ProtectedError):
        licence.delete()
    assert Licence.objects.filter(pk=licence.pk).exists()
