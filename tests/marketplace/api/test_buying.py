"""Buying through the API: keys, errors, catalogue, quotes, orders, idempotency, the ledger."""

import pytest
from django.test import override_settings

from ledger import services as ledger
from marketplace.api.keys import api_key_revoke
from marketplace.licensing.models import Licence, LicenceAsset, Order
from tests.fixtures.api import buy
from tests.fixtures.market import OFFER_DATA


def test_keys_are_required_and_checked(client, market, buyer):
    response = client.get("/api/v1/corpora/")
    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/unauthenticated") or response.json()["status"] == 403
    response = client.get("/api/v1/corpora/", HTTP_AUTHORIZATION="Bearer cf_live_nope")
    assert (response.status_code, response.json()["detail"]) == (401, "This API key is not valid.")
    access, api = buyer
    assert api.get("/api/v1/corpora/").status_code == 200
    key = access.organisation.api_keys.get()
    assert key.last_used_at is not None
    assert key.secret_hash not in api.secret and len(key.secret_hash) == 64
    api_key_revoke(access=access, key_id=key.public_id)
    response = api.get("/api/v1/corpora/")
    assert (response.status_code, response.json()["detail"]) == (401, "This API key was revoked.")


def test_catalogue_search_and_assets(market, buyer):
    _, api = buyer
    corpora = api.get("/api/v1/corpora/?use=pre_training&territory=FR").json()
    assert [c["slug"] for c in corpora["results"]] == [market["corpus"].slug]
    assert api.get("/api/v1/corpora/?use=retrieval").json()["results"] == []
    bad = api.get("/api/v1/corpora/?genre=opera")
    assert bad.status_code == 400
    assert "genre" in bad.json()["errors"]
    for odd in ("NaN", "Infinity", "1e999999", "-1", "lots"):
        bad = api.get(f"/api/v1/corpora/?min_hours={odd}&max_price_per_hour={odd}")
        assert bad.status_code == 400, odd
        assert set(bad.json()["errors"]) == {"min_hours", "max_price_per_hour"}
    assert api.get("/api/v1/corpora/?max_price_per_hour=12.5").status_code == 400
    assert "currency" in api.get("/api/v1/corpora/?max_price_per_hour=100&currency=E_R").json()["errors"]
    assert [c["slug"] for c in api.get("/api/v1/corpora/?min_hours=0").json()["results"]] == [market["corpus"].slug]
    detail = api.get(f"/api/v1/corpora/{market['corpus'].slug}/").json()
    assert {o["name"] for o in detail["offers"]} == {"Flat", "Research licence"}
    page = api.get(f"/api/v1/corpora/{market['corpus'].slug}/assets/?limit=2").json()
    assert [a["external_id"] for a in page["results"]] == ["m0", "m1"]
    rest = api.get(page["next"]).json()
    assert [a["external_id"] for a in rest["results"]] == ["m2", "m3"]
    assert api.get("/api/v1/offers/?use=evaluation").json()["results"][0]["corpus"] == market["corpus"].slug
    assert api.get("/api/v1/corpora/no-such/").status_code == 404


def test_quote_prices_the_scope(market, buyer):
    _, api = buyer
    whole = api.post("/api/v1/quotes/", {"offer": market["hourly"].pk}, format="json").json()
    assert (whole["asset_count"], whole["due_now"]) == (5, 0)
    assert whole["breakdown"]["usage_estimate"]["amount"] == 500  # 180 s = 0.05 h at 100.00/h
    scoped = api.post(
        "/api/v1/quotes/",
        {"offer": market["flat"].pk, "scope": {"type": "filter", "filters": {"external_ids": ["m0", "m1"]}}},
        format="json",
    ).json()
    assert (scoped["asset_count"], scoped["due_now"]) == (2, 100_000)
    bad = api.post(
        "/api/v1/quotes/",
        {"offer": market["flat"].pk, "scope": {"type": "filter", "filters": {"colour": "red"}}},
        format="json",
    )
    assert bad.status_code == 400
    assert "scope.filters.colour" in bad.json()["errors"]
    empty = api.post(
        "/api/v1/quotes/",
        {"offer": market["flat"].pk, "scope": {"type": "filter", "filters": {"external_ids": ["zz"]}}},
        format="json",
    )
    assert empty.json()["errors"] == {"scope": ["No active asset matches this scope."]}
    assert api.post("/api/v1/quotes/", {"offer": 999999}, format="json").status_code == 404


def test_refused_licensee_cannot_quote(licensor, market, buyer):
    from marketplace.catalog.models import OfferVersion

    access, api = buyer
    version = OfferVersion.objects.get(offer=market["flat"])
    version.refused_licensees.add(access.organisation)
    response = api.post("/api/v1/quotes/", {"offer": market["flat"].pk}, format="json")
    assert (response.status_code, response.json()["detail"]) == (
        403,
        "This licensor does not license to your organisation.",
    )


def test_a_refusal_published_after_the_quote_stops_the_order(licensor, market, buyer):
    from marketplace.catalog.models import OfferVersion
    from marketplace.catalog.services import offers

    access, api = buyer
    quote = api.post("/api/v1/quotes/", {"offer": market["flat"].pk}, format="json").json()
    flat = {**OFFER_DATA, "name": "Flat", "price_plan": {"metric": None, "flat_fee": 100_000}}  # as the market has it
    offers.offer_save(
        access=licensor, corpus=market["corpus"], offer=market["flat"],
        data={**flat, "refused_licensees": [access.organisation.slug]},
    )  # fmt: skip
    assert OfferVersion.objects.filter(offer=market["flat"]).count() == 2  # a new version, refusing lumen
    response = api.post(
        "/api/v1/orders/", {"quote": quote["id"], "payment_method": "account"}, format="json", HTTP_IDEMPOTENCY_KEY="o1"
    )
    assert (response.status_code, response.json()["detail"]) == (
        403,
        "This licensor does not license to your organisation.",
    )
    assert not Order.objects.exists() and not Licence.objects.exists()


def test_order_on_account_issues_the_licence_and_books_the_sale(market, buyer):
    _, api = buyer
    order = buy(api, market["flat"])
    assert order["status"] == "completed"
    licence = Licence.objects.get(public_id=order["licence"])
    assert LicenceAsset.objects.filter(licence=licence).count() == 5
    # 1,000.00 fee: 20% commission; royalties split by seconds, the co-owned clip half each.
    assert ledger.account_balance("receivable:org:lumen", "EUR").balance == 100_000
    assert ledger.account_balance("revenue:commission", "EUR").balance == 20_000
    assert ledger.account_balance("royalty_payable:org:northlight", "EUR").balance == 72_000
    assert ledger.account_balance("royalty_payable:org:co-owner", "EUR").balance == 8_000
    listed = api.get("/api/v1/licences/").json()["results"]
    assert [item["id"] for item in listed] == [licence.public_id]
    again = api.post(
        "/api/v1/orders/",
        {"quote": order["quote"], "payment_method": "account"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k2",
    )
    assert again.status_code == 400
    assert "already ordered" in again.json()["errors"]["quote"][0]


def test_on_account_needs_approval(market, buyer):
    access, api = buyer
    access.organisation.invoicing_approved = False
    access.organisation.save()
    quote = api.post("/api/v1/quotes/", {"offer": market["flat"].pk}, format="json").json()
    response = api.post(
        "/api/v1/orders/", {"quote": quote["id"], "payment_method": "account"}, format="json", HTTP_IDEMPOTENCY_KEY="x"
    )
    assert response.status_code == 403
    assert "not approved to buy on account" in response.json()["detail"]


def test_orders_need_an_idempotency_key_and_replays_are_safe(market, buyer):
    _, api = buyer
    quote = api.post("/api/v1/quotes/", {"offer": market["flat"].pk}, format="json").json()
    body = {"quote": quote["id"], "payment_method": "account"}
    missing = api.post("/api/v1/orders/", body, format="json")
    assert missing.status_code == 400
    assert "Idempotency-Key" in missing.json()["detail"]
    first = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    replay = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    changed = api.post(
        "/api/v1/orders/", {**body, "payment_method": "card"}, format="json", HTTP_IDEMPOTENCY_KEY="order-1"
    )
    assert changed.status_code == 422
    assert Order.objects.count() == 1


def test_an_idempotency_key_belongs_to_one_organisation(market, buyer, other_buyer):
    _, api = buyer
    _, other = other_buyer
    q1 = api.post("/api/v1/quotes/", {"offer": market["flat"].pk}, format="json").json()
    q2 = other.post("/api/v1/quotes/", {"offer": market["flat"].pk}, format="json").json()
    assert (
        api.post(
            "/api/v1/orders/",
            {"quote": q1["id"], "payment_method": "account"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="same",
        ).status_code
        == 201
    )
    assert (
        other.post(
            "/api/v1/orders/",
            {"quote": q2["id"], "payment_method": "account"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="same",
        ).status_code
        == 201
    )


@override_settings(API_MAX_BODY_BYTES=100)
def test_bodies_over_the_limit_get_413(buyer):
    _, api = buyer
    response = api.post("/api/v1/usage/events/", {"events": [{"x": "y" * 200}]}, format="json")
    assert response.status_code == 413
    assert "the limit is 100" in response.json()["detail"]


def test_rate_limit_gives_429_with_a_clear_body(buyer, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"}}
    from marketplace.api.throttling import PerKeyThrottle

    PerKeyThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    _, api = buyer
    try:
        codes = [api.get("/api/v1/corpora/").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        body = api.get("/api/v1/corpora/").json()
        assert body["type"].endswith("/rate-limited")
        assert body["retry_after"] > 0
    finally:
        PerKeyThrottle.THROTTLE_RATES = {"api_key": "100000/min"}
        cache.clear()


def test_page_size_is_capped(market, buyer):
    _, api = buyer
    response = api.get(f"/api/v1/corpora/{market['corpus'].slug}/assets/?limit=100000")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 5  # capped at 500, and there are five


def test_schema_and_docs_are_served_locally(client, buyer):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/orders/" in text and "Idempotency-Key" in text and "bearer" in text
    docs = client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "cdn" not in docs.lower()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_replays_create_one_order(market):
    import threading

    from django.db import connection

    from marketplace.orgs.models import OrgKind
    from tests.fixtures.api import key_client
    from tests.fixtures.market import access_for, make_org

    org, owner = make_org("racer", OrgKind.LICENSEE)
    org.invoicing_approved = True
    org.save()
    api = key_client(access_for(org, owner))
    quote = api.post("/api/v1/quotes/", {"offer": market["flat"].pk}, format="json").json()
    results = []
    barrier = threading.Barrier(20)

    def order():
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api.secret}")
        barrier.wait()
        try:
            response = client.post(
                "/api/v1/orders/",
                {"quote": quote["id"], "payment_method": "account"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="race",
            )
            results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=order) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Order.objects.filter(licensee=org).count() == 1
    assert results.count(201) >= 1
    assert set(results) <= {201, 409}
