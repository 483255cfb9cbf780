"""A licensee's whole journey over HTTP, with a real Celery worker and beat on Redis: register a webhook,
search, quote, buy, receive the signed licence.issued webhook, verify the certificate offline with the
published keys, download files through signed links and prove each one is covered, report usage."""

import datetime as dt
import hashlib
import json

import pytest
import requests

from ledger import services as ledger
from marketplace.licensing import verifier
from marketplace.webhooks import signing
from tests.fixtures.celery import start_worker, wait_until


@pytest.mark.postgres
@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_licensee_buys_verifies_downloads_and_reports(live_server, market, buyer, receiver):
    from config.celery_app import app

    _, api_client = buyer
    app.control.purge()
    worker = start_worker(beat=True)
    try:
        wait_until(lambda: app.control.ping(timeout=0.5), timeout=60, message="the worker")
        base = f"{live_server.url}/api/v1"
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {api_client.secret}"

        endpoint = api.post(
            f"{base}/webhook-endpoints/", json={"url": receiver.url, "events": ["licence.issued", "asset.withdrawn"]}
        ).json()
        found = api.get(f"{base}/corpora/", params={"q": "harbour", "use": "pre_training"}).json()["results"]
        assert [c["slug"] for c in found] == [market["corpus"].slug]
        quote = api.post(f"{base}/quotes/", json={"offer": market["flat"].pk, "scope": {"type": "corpus"}}).json()
        assert quote["due_now"] == 100_000
        order = api.post(
            f"{base}/orders/", json={"quote": quote["id"], "payment_method": "account"},
            headers={"Idempotency-Key": "e2e-order-1"},
        ).json()  # fmt: skip
        licence_id = order["licence"]
        assert order["status"] == "completed" and licence_id

        # The worker's beat fans the licence.issued event out and delivers it, signed.
        wait_until(lambda: receiver.requests, timeout=60, message="the licence.issued webhook")
        delivered = receiver.requests[0]
        assert signing.verify(endpoint["secret"], delivered["headers"], delivered["body"])
        payload = json.loads(delivered["body"])
        assert (payload["type"], payload["data"]["licence"]["id"]) == ("licence.issued", licence_id)

        # The certificate verifies offline against the published keys.
        certificate = api.get(f"{base}/licences/{licence_id}/certificate/").json()
        keys = verifier.public_keys_from_jwks(
            requests.get(f"{live_server.url}/.well-known/clearframe-keys.json", timeout=10).json()
        )
        assert verifier.verify(certificate, keys).valid
        assert certificate["certificate"]["merkle"]["leaves"] == 5

        # Downloads stream the real files; each is proven to be covered by the certificate.
        manifest = api.get(f"{base}/licences/{licence_id}/manifest/").json()
        assert len(manifest["results"]) == 5
        delivered_bytes = 0
        for item in manifest["results"][:2]:
            content = api.get(item["download_url"]).content
            digest = hashlib.sha256(content).hexdigest()
            assert digest == item["sha256"]
            delivered_bytes += len(content)
            proof = api.get(f"{base}/licences/{licence_id}/proof/", params={"sha256": digest}).json()
            assert verifier.verify(certificate, keys, file_sha256=digest, proof=proof).valid
        forged = dict(proof, path=list(reversed(proof["path"])))
        assert not verifier.verify(certificate, keys, file_sha256=digest, proof=forged).valid

        # Usage: reported training hours, once each, next to the metered downloads.
        now = dt.datetime.now(dt.UTC).isoformat()
        events = [
            {"event_id": f"run-7-step-{i}", "licence": licence_id, "metric": "training_hours", "quantity": "1.5",
             "occurred_at": now}
            for i in range(2)
        ]  # fmt: skip
        first = api.post(f"{base}/usage/events/", json={"events": events}).json()
        again = api.post(f"{base}/usage/events/", json={"events": events}).json()
        assert (first["accepted"], again["accepted"], again["duplicates"]) == (2, 0, 2)
        totals = {row["metric"]: row["quantity"] for row in api.get(f"{base}/usage/summary/").json()["results"]}
        assert totals["training_hours"] == "3.000000"
        assert totals["bytes_delivered"] == f"{delivered_bytes}.000000"

        # The flat fee is on the licensee's account and split between the rights holders and the marketplace.
        assert ledger.account_balance("receivable:org:lumen", "EUR").balance == 100_000
        assert ledger.account_balance("revenue:commission", "EUR").balance == 20_000
    finally:
        worker.terminate()
        worker.wait(20)
