"""A licensee admin manages API access in real headless Chromium: a key shown once, copied and used, then
revoked; a webhook endpoint added, its signed deliveries in the log, replayed; a takedown acknowledged."""

import pytest
import requests
from playwright.sync_api import expect

from marketplace.api.models import ApiKey
from marketplace.catalog.models import Asset
from marketplace.catalog.services import withdrawals
from marketplace.orgs.models import Organisation, OrgKind
from marketplace.webhooks.models import TakedownNotice
from marketplace.webhooks.services import delivery_send, events_dispatch
from tests.browser.test_catalogue_flow import sign_in
from tests.fixtures.api import buy, key_client
from tests.fixtures.market import access_for, make_org

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_keys_endpoints_deliveries_and_takedowns(page, live_server, market, licensor, receiver):
    org, owner = make_org("lumen-ai", OrgKind.LICENSEE, owner_email="ml@lumen.example")
    Organisation.objects.filter(pk=org.pk).update(invoicing_approved=True)
    base = live_server.url
    sign_in(page, base, "ml@lumen.example")
    page.get_by_role("link", name="Developers").click()

    # A key: shown once, works over HTTP, gone from every later page.
    page.get_by_label("Name").fill("nightly ingest")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#secret").input_value()
    assert secret.startswith("cf_live_")
    listed = requests.get(f"{base}/api/v1/licences/", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert listed.status_code == 200
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("cell", name="nightly ingest")).to_be_visible()
    assert secret not in page.content()

    # A webhook endpoint, a delivery that failed once, then replayed from the log.
    page.get_by_role("link", name="Add an endpoint").click()
    page.get_by_label("Endpoint URL").fill(receiver.url)
    page.get_by_label("licence.issued: A licence was issued to you").check()
    page.get_by_label("asset.withdrawn: Assets you licensed were withdrawn (takedown)").check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_text("Endpoint added.")).to_be_visible()
    receiver.statuses = [500]
    licence = buy(key_client(access_for(org, owner)), market["flat"])["licence"]
    events_dispatch()
    for delivery in org.webhook_endpoints.get().deliveries.all():
        delivery_send(delivery.pk)
    page.reload()
    row = page.locator("tbody tr", has_text="licence.issued")
    expect(row).to_contain_text("HTTP 500")
    row.get_by_role("button", name="Replay").click()
    expect(page.get_by_text("queued to be sent again")).to_be_visible()
    for delivery in org.webhook_endpoints.get().deliveries.all():
        delivery_send(delivery.pk)
    page.reload()
    expect(page.locator("tbody tr", has_text="licence.issued")).to_contain_text("HTTP 200")
    assert len(receiver.requests) == 2

    # A takedown: acknowledged on the licence's page; the rights holder sees it.
    withdrawals.assets_withdraw(
        access=licensor, corpus=market["corpus"], asset_ids=[Asset.objects.get(external_id="m2").pk], reason="Dispute"
    )
    events_dispatch()
    page.get_by_role("link", name="Licences").click()
    page.get_by_role("link", name=licence).click()
    page.get_by_role("button", name="Acknowledge removal").click()
    expect(page.get_by_text("Takedown acknowledged")).to_be_visible()
    assert TakedownNotice.objects.get().acknowledged_by == "ml@lumen.example"

    # Revoking the key stops it at once.
    page.get_by_role("link", name="Developers").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tbody tr", has_text="nightly ingest").get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("is revoked")).to_be_visible()
    assert ApiKey.objects.get(name="nightly ingest").revoked_at is not None
    refused = requests.get(f"{base}/api/v1/licences/", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert refused.status_code == 401
