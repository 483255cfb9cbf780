"""The members page in real headless Chromium: what asks before it acts."""

import pytest
from playwright.sync_api import expect

from marketplace.orgs.models import Membership, OrgKind, Role
from tests.browser.test_catalogue_flow import sign_in
from tests.fixtures.market import add_member, make_org

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_changing_your_own_role_asks_first_and_only_when_it_changes(page, live_server):
    org, owner = make_org("northlight", OrgKind.LICENSOR, owner_email="studio@northlight.example")
    add_member(org, "second@northlight.example", Role.OWNER)  # so that the first owner may step down
    sign_in(page, live_server.url, "studio@northlight.example")
    page.goto(f"{live_server.url}/o/northlight/members/")
    own = page.get_by_label("Role of studio@northlight.example")
    row = page.locator("tr", has=own)
    asked: list[str] = []
    accept = {"now": True}

    def answer(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept["now"] else dialog.dismiss()

    page.on("dialog", answer)
    # The same role: no question, and the page says nothing changed.
    row.get_by_role("button", name="Change").click()
    expect(page.get_by_text("Nothing changed: studio@northlight.example is owner.")).to_be_visible()
    assert asked == []
    # Another role: asked first; declined, nothing happens.
    accept["now"] = False
    page.get_by_label("Role of studio@northlight.example").select_option("viewer")
    page.locator("tr", has=page.get_by_label("Role of studio@northlight.example")).get_by_role(
        "button", name="Change"
    ).click()
    expect(page.get_by_label("Role of studio@northlight.example")).to_have_value("viewer")  # still on the page
    assert len(asked) == 1 and asked[0].startswith("Change your own role?")
    assert Membership.objects.get(organisation=org, user=owner).role == Role.OWNER


def test_on_a_phone_each_member_is_a_card_with_its_controls_in_view(page, live_server):
    org, _ = make_org("northlight", OrgKind.LICENSOR, owner_email="studio@northlight.example")
    add_member(org, "someone.with.a.long.address@northlight.example", Role.VIEWER)
    page.set_viewport_size({"width": 390, "height": 800})
    sign_in(page, live_server.url, "studio@northlight.example")
    page.goto(f"{live_server.url}/o/northlight/members/")
    for button in page.locator("main table").first.get_by_role("button").all():
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, button.inner_text()
