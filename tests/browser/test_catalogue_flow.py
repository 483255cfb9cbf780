"""A licensor lists a catalogue in real headless Chromium, an operator approves it, anyone can find it.

Sign in, create a corpus, upload a manifest with errors, see the row errors,
upload the fixed file, watch the progress finish, create an offer, see the
example pricing, submit, approve, and find the corpus in the public catalogue; and the import
page as it follows an import from checking to applying to done.
The import runs on a real Celery worker.
"""

import re

import pytest
from playwright.sync_api import expect

from marketplace.orgs.models import OrgKind
from tests.fixtures.market import PASSWORD, make_org, manifest_csv, manifest_row

pytestmark = [pytest.mark.browser, pytest.mark.celery, pytest.mark.postgres, pytest.mark.slow]


def sign_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_list_a_corpus_from_upload_to_public_catalogue(page, live_server, celery_worker, tmp_path):
    make_org("northlight", OrgKind.LICENSOR, owner_email="studio@northlight.example")
    make_org("market-ops", OrgKind.OPERATOR, owner_email="ops@market.example")
    base = live_server.url

    sign_in(page, base, "studio@northlight.example")
    expect(page.get_by_role("heading", name="Northlight")).to_be_visible()
    page.get_by_role("link", name="New corpus").first.click()

    # The form explains what is missing, next to each field.
    page.get_by_role("button", name="Create corpus").click()
    expect(page.locator("#id_title_error")).to_contain_text("This field is required")
    # ...and starts at a summary of what to fix, each linked to its field; a checkbox group is named by its legend.
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("This form has")
    expect(page.get_by_role("group", name="Genres")).to_be_visible()
    summary.get_by_role("link", name="Genres", exact=True).click()
    expect(page.get_by_role("group", name="Genres").get_by_role("checkbox").first).to_be_focused()
    summary.get_by_role("link", name="Title", exact=True).click()
    expect(page.get_by_role("textbox", name="Title", exact=True)).to_be_focused()
    page.get_by_role("textbox", name="Title", exact=True).fill("Rotterdam harbour 4K")
    page.get_by_role("textbox", name="Description", exact=True).fill(
        "Cranes, ships and quays at dawn, filmed in 4K by our own crews."
    )
    page.get_by_label("Languages").fill("zxx")
    page.get_by_role("textbox", name="Territory", exact=True).fill("WW")
    page.get_by_label("Content rating").select_option("all_ages")
    page.get_by_label("Nature and wildlife").check()
    page.get_by_label("Chain of title").fill("Shot by Northlight staff crews; Northlight owns the copyright.")
    page.get_by_role("button", name="Create corpus").click()
    expect(page.get_by_role("heading", name=re.compile("Rotterdam harbour 4K"))).to_be_visible()

    # A manifest with errors: every bad row is listed, and nothing is imported.
    bad = tmp_path / "harbour.csv"
    bad.write_bytes(
        manifest_csv(
            [manifest_row("h1"), manifest_row("h2", sha256="not-a-hash"), manifest_row("h3", duration_seconds="-2")]
        )
    )
    page.get_by_label("Manifest file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("heading", name=re.compile("nothing was changed"))).to_be_visible(timeout=60_000)
    errors = page.locator("#row-errors")
    expect(errors).to_contain_text("sha256 must be 64 hexadecimal characters")
    expect(errors).to_contain_text("duration_seconds must be greater than zero")
    expect(errors.locator("tbody tr").first).to_contain_text("h2")  # the row named by its external id too
    expect(errors.locator("tbody tr")).to_have_count(2)
    expect(page.get_by_role("link", name="Download all errors (CSV)")).to_be_visible()

    # The fixed file: the progress bar runs to the end and the page reports what changed.
    good = tmp_path / "harbour-fixed.csv"
    good.write_bytes(manifest_csv([manifest_row(f"h{i}") for i in range(1, 2001)]))
    page.get_by_role("link", name="Upload a corrected file").click()
    page.get_by_label("Manifest file").set_input_files(str(good))
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#count-added")).to_have_text("2,000", timeout=60_000)
    expect(page.locator("#import-status")).to_have_text("Done")

    # An offer, with example pricing computed as the price plan is typed.
    page.get_by_role("link", name=re.compile("Rotterdam harbour 4K")).click()
    page.get_by_role("link", name="New offer").click()
    page.get_by_role("textbox", name="Name", exact=True).fill("Research licence, 12 months")
    page.get_by_label("Pre-training").check()
    page.get_by_label("Metric").select_option("hours")
    page.get_by_label("Price beyond the last tier").fill("120.00")
    expect(page.locator("#example-pricing")).to_contain_text("12,000.00 EUR")
    expect(page.locator("#example-pricing")).to_contain_text("1,200,000.00 EUR")
    # Refused for its commission, the form comes back priced as typed, not blank.
    page.get_by_label("Marketplace commission (%)").fill("5")
    page.get_by_role("button", name="Save offer").click()
    expect(page.get_by_text("The commission must be between 15% and 50%.").first).to_be_visible()
    expect(page.locator("#plan-terms")).to_contain_text("120.00 EUR per hour of video")
    page.get_by_label("Marketplace commission (%)").fill("20")
    page.get_by_role("button", name="Save offer").click()
    page.get_by_role("button", name="Publish offer").click()
    # Editing the published offer puts a new version on sale at once: the page asks first.
    page.get_by_role("link", name="Research licence, 12 months").click()
    page.get_by_label("Price beyond the last tier").fill("100.00")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Save offer").click()
    assert asked and "as version 2" in asked[0]
    expect(page.get_by_role("button", name="Save offer")).to_be_visible()  # dismissed: still on the editor
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Save offer").click()
    expect(page.get_by_text("Saved as version 2.")).to_be_visible()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Submitted. The operator will review the listing.")).to_be_visible()

    # The operator approves.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, "ops@market.example")
    page.get_by_role("link", name="Review queue").first.click()
    page.get_by_role("link", name="Rotterdam harbour 4K").click()
    page.get_by_label("Decision").select_option("approve")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("is published")).to_be_visible()

    # Anyone finds it in the public catalogue.
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base}/catalogue/?q=harbour&use=pre_training")
    page.get_by_role("link", name="Rotterdam harbour 4K").click()
    expect(page.get_by_role("heading", name="Rotterdam harbour 4K")).to_be_visible()
    expect(page.get_by_text("Research licence, 12 months")).to_be_visible()
    expect(page.locator("main")).to_contain_text("2,000")
    expect(page.locator("main")).to_contain_text("100.00 EUR per hour of video")  # version 2's plan


def test_import_page_follows_checking_then_applying_then_done(page, live_server):
    """The page polls: a percentage while rows are checked, an indeterminate bar while applying, then the result."""
    from marketplace.catalog.models import ImportStatus, ManifestImport
    from marketplace.catalog.services import corpora, imports
    from marketplace.orgs.access import OrgAccess
    from marketplace.orgs.models import Membership
    from tests.fixtures.market import CORPUS_DATA, upload

    org, owner = make_org("northlight", OrgKind.LICENSOR, owner_email="studio@northlight.example")
    access = OrgAccess(org, Membership.objects.get(user=owner))
    corpus = corpora.corpus_create(access=access, data=CORPUS_DATA)
    mi = imports.manifest_upload(
        access=access, corpus=corpus, upload=upload("m.csv", manifest_csv([manifest_row("a")])), enqueue=False
    )
    running = ManifestImport.objects.filter(pk=mi.pk)
    running.update(status=ImportStatus.VALIDATING, progress=40, rows_seen=2000)
    sign_in(page, live_server.url, "studio@northlight.example")
    page.goto(f"{live_server.url}/o/{org.slug}/imports/{mi.pk}/")
    label, bar = page.locator("[data-progress-label]"), page.locator("#import-progress")
    expect(label).to_have_text("Validating — 40%")
    running.update(progress=75)
    expect(bar).to_have_attribute("value", "75")
    expect(page.locator("#import-status")).to_have_text("Validating")  # the heading's badge follows too
    running.update(status=ImportStatus.APPLYING)
    expect(label).to_have_text("Applying 2,000 rows…")
    expect(page.locator("#import-status")).to_have_text("Applying")
    expect(bar).not_to_have_attribute("value", re.compile(".*"))
    running.update(status=ImportStatus.DONE, added=2000)
    expect(page.locator("#count-added")).to_have_text("2,000")


def test_changes_to_a_published_listing_go_live_when_the_operator_approves(
    page, live_server, licensor, operator, listed_corpus
):
    from marketplace.catalog.services import corpora

    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=True)
    base, slug = live_server.url, licensor.organisation.slug

    sign_in(page, base, licensor.user.email)
    page.goto(f"{base}/o/{slug}/corpora/{listed_corpus.pk}/edit/")
    expect(page.locator("main")).to_contain_text("changes to its public details go to the operator for review")
    page.get_by_label("Chain of title").fill("Bought from Ports Ltd in 2024 (deed no. 88).")
    page.get_by_role("button", name="Save").click()
    pending = page.locator("#pending-changes")
    expect(pending).to_contain_text("Changes waiting for the operator's review")
    expect(pending).to_contain_text("deed no. 88")
    page.goto(f"{base}/catalogue/{listed_corpus.slug}/")
    expect(page.locator("main")).not_to_contain_text("deed no. 88")  # buyers see the listing as approved

    page.goto(f"{base}/o/{slug}/")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, operator.user.email)
    page.get_by_role("link", name="Review queue").first.click()
    page.get_by_role("link", name=listed_corpus.title).click()
    expect(page.get_by_role("table", name="Proposed changes")).to_contain_text("Shot by staff crews")
    page.get_by_label("Decision").select_option("approve")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("are live")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base}/catalogue/{listed_corpus.slug}/")
    expect(page.locator("main")).to_contain_text("deed no. 88")


def test_a_withdrawal_asks_to_confirm_only_once_its_form_is_filled(page, live_server):
    """An empty form is answered with what it lacks, not with "withdraw every listed asset?" first."""
    from marketplace.catalog.models import Asset
    from marketplace.catalog.services import corpora
    from tests.fixtures.market import CORPUS_DATA, access_for, import_rows

    org, owner = make_org("northlight", OrgKind.LICENSOR, owner_email="studio@northlight.example")
    access = access_for(org, owner)
    corpus = corpora.corpus_create(access=access, data=CORPUS_DATA)
    import_rows(access, corpus, [manifest_row(f"a{n}") for n in range(3)])
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    sign_in(page, live_server.url, "studio@northlight.example")
    page.goto(f"{live_server.url}/o/{org.slug}/corpora/{corpus.pk}/assets/")
    page.get_by_text("Withdraw a list of assets by external id").click()
    page.get_by_role("button", name="Withdraw the listed assets").click()
    expect(page.get_by_text("List at least one external id").first).to_be_visible()
    expect(page.get_by_text("Say why").first).to_be_visible()
    assert asked == []
    page.get_by_label("External ids").fill("a1")
    page.locator("#id_list_reason").fill("Takedown notice 17")
    page.get_by_role("button", name="Withdraw the listed assets").click()
    expect(page.get_by_text("Withdrew 1 listed asset.")).to_be_visible()
    assert len(asked) == 1 and "Withdraw every listed asset?" in asked[0]
    assert list(Asset.objects.filter(status="withdrawn").values_list("external_id", flat=True)) == ["a1"]
