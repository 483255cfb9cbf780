"""The delivery manifest as Croissant JSON-LD, with the licence terms, loadable by mlcroissant."""

import base64
import csv
import hashlib
import io

import pytest
import requests

from marketplace.catalog.models import Asset
from marketplace.catalog.services import withdrawals
from tests.fixtures.api import buy


@pytest.fixture
def licence_id(market, buyer):
    _, api = buyer
    return buy(api, market["flat"])["licence"]


def csv_of(response) -> bytes:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def test_the_document_names_the_csv_its_hash_and_the_terms(buyer, licence_id):
    _, api = buyer
    response = api.get(f"/api/v1/licences/{licence_id}/croissant/")
    assert response["Content-Type"] == "application/ld+json"
    doc = response.json()
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    terms = doc["licenceTerms"]
    assert (terms["licence"], terms["licensor"], terms["terms"]["permitted_uses"]) == (
        licence_id, "Northlight", ["pre_training", "evaluation"],
    )  # fmt: skip
    assert terms["certificate"]["version"] == 1 and len(terms["certificate"]["merkle_root"]) == 64
    csv_file = doc["distribution"][0]
    body = csv_of(api.get(csv_file["contentUrl"]))
    assert hashlib.sha256(body).hexdigest() == csv_file["sha256"]
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r["external_id"] for r in rows] == ["m0", "m1", "m2", "m3", "m4"]
    assert {f["name"] for f in doc["recordSet"][0]["field"]} == set(rows[0])


def test_a_withdrawal_makes_the_old_csv_gone(licensor, market, buyer, licence_id):
    _, api = buyer
    old = api.get(f"/api/v1/licences/{licence_id}/croissant/").json()["distribution"][0]
    withdrawals.assets_withdraw(
        access=licensor, corpus=market["corpus"], asset_ids=[Asset.objects.get(external_id="m1").pk], reason="Claim"
    )
    gone = api.get(old["contentUrl"])
    assert gone.status_code == 410
    assert "Fetch the Croissant document again" in gone.json()["detail"]
    new = api.get(f"/api/v1/licences/{licence_id}/croissant/").json()["distribution"][0]
    body = csv_of(api.get(new["contentUrl"]))
    assert b"m1" not in body and new["sha256"] == hashlib.sha256(body).hexdigest() != old["sha256"]


def test_the_csv_takes_the_key_as_basic_auth_and_refuses_others(buyer, other_buyer, licence_id):
    _, api = buyer
    _, other = other_buyer
    url = f"/api/v1/licences/{licence_id}/manifest.csv?version=0"
    basic = base64.b64encode(f"{api.secret}:".encode()).decode()
    from rest_framework.test import APIClient

    assert csv_of(APIClient().get(url, HTTP_AUTHORIZATION=f"Basic {basic}")).startswith(b"asset_id,")
    assert APIClient().get(url, HTTP_AUTHORIZATION="Basic bm9ib2R5Og==").status_code == 401
    assert other.get(url).status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_mlcroissant_loads_the_records(live_server, market, buyer, monkeypatch, tmp_path):
    import mlcroissant
    from mlcroissant._src.core import constants

    _, api = buyer
    licence = buy(api, market["flat"])["licence"]
    document = requests.get(
        f"{live_server.url}/api/v1/licences/{licence}/croissant/",
        headers={"Authorization": f"Bearer {api.secret}"},
        timeout=10,
    ).json()
    monkeypatch.setattr(constants, "DOWNLOAD_PATH", tmp_path)
    monkeypatch.setenv("CROISSANT_BASIC_AUTH_USERNAME", api.secret)
    monkeypatch.setenv("CROISSANT_BASIC_AUTH_PASSWORD", "")
    dataset = mlcroissant.Dataset(jsonld=document)
    assert dataset.metadata.name == f"{market['corpus'].slug}-{licence}"
    records = list(dataset.records("assets"))
    assert sorted(r["assets/external_id"] for r in records) == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert {r["assets/duration_seconds"] for r in records} == {36.0}
    assert all(isinstance(r["assets/asset_id"], int) for r in records)
