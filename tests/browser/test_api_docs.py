"""The API reference pages load nothing from outside the project (no CDN, no web fonts)."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_api_reference_is_served_by_the_project_alone(page, live_server, path):
    requested: list[str] = []
    blocked: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda r: blocked.append(r.url) if "csp" in (r.failure or "").lower() else None)
    page.goto(live_server.url + path)
    expect(page.get_by_text("ClearFrame API").first).to_be_visible(timeout=20_000)
    page.wait_for_load_state("networkidle")
    assert any("/api/v1/schema/" in url for url in requested)
    # Redoc's side menu asks for a logo on its CDN, with no setting to stop it: the page's policy blocks it
    # in the browser, before any connection, and Redoc hides the image.
    outside = [url for url in requested if not url.startswith((live_server.url, "data:", "blob:"))]
    assert [url for url in outside if url not in blocked] == []
    assert not any("fonts.googleapis" in url for url in requested)
