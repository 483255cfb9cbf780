"""The site's icon, also where browsers look for it when a page names none."""

from django.contrib.staticfiles import finders
from django.templatetags.static import static


def test_favicon_ico_leads_to_the_site_icon(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == static("clearframe/icon.svg")
    assert finders.find("clearframe/icon.svg")
    assert client.post("/favicon.ico").status_code == 405


def test_the_admin_pages_load_without_a_missing_icon(admin_client):
    # The admin names no icon, so the browser asks for /favicon.ico on every admin page.
    assert admin_client.get("/admin/").status_code == 200
    assert admin_client.get("/favicon.ico").status_code != 404
