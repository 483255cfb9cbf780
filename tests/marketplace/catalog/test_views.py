"""The licensor, operator and public pages, driven through HTTP."""

import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from marketplace.catalog.models import Asset, AssetStatus, Corpus, ImportStatus, ManifestImport, Offer, Withdrawal
from marketplace.catalog.services import corpora, imports, offers, withdrawals
from marketplace.orgs.access import org_access
from marketplace.orgs.models import Role
from tests.fixtures.market import (
    CORPUS_DATA,
    OFFER_DATA,
    add_member,
    import_rows,
    manifest_csv,
    manifest_row,
    upload,
)


@pytest.fixture
def owner_client(client, licensor):
    client.force_login(licensor.user)
    return client


def url(name, access, **kwargs):
    return reverse(f"catalog:{name}", kwargs={"org_slug": access.organisation.slug, **kwargs})


def test_create_corpus_shows_errors_next_to_fields(owner_client, licensor):
    response = owner_client.post(url("corpus_create", licensor), {"title": "", "languages": "en", "territory": "XX"})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["title"] == ["This field is required."]
    # The service's rules for the fields that passed the form's checks come in the same round.
    assert form.errors["territory"] == [
        "Unknown territory code(s): XX. Use ISO 3166-1 alpha-2 codes, or WW for worldwide."
    ]
    response = owner_client.post(
        url("corpus_create", licensor),
        {"title": "", "description": "short", "languages": "en-", "genres": ["urban"], "content_rating": "all_ages",
         "territory": "WW", "chain_of_title": "   ", "co_owners": "nobody:100"},
    )  # fmt: skip
    assert sorted(response.context["form"].errors) == [
        "chain_of_title", "co_owners", "description", "languages", "title",
    ]  # fmt: skip
    response = owner_client.post(
        url("corpus_create", licensor),
        {
            "title": "City at night", "description": "Night-time city footage, shot in 4K by our crews.",
            "languages": "zxx en", "genres": ["urban"], "content_rating": "all_ages", "territory": "FR DE",
            "chain_of_title": "Staff crews; we own it.",
        },
    )  # fmt: skip
    corpus = Corpus.objects.get(title="City at night")
    assert response.status_code == 302
    assert response["Location"] == url("corpus", licensor, corpus_id=corpus.pk)
    assert (corpus.languages, corpus.territory, corpus.organisation) == (
        ["zxx", "en"],
        ["DE", "FR"],
        licensor.organisation,
    )


def test_service_errors_land_on_their_field(owner_client, licensor):
    response = owner_client.post(
        url("corpus_create", licensor),
        {"title": "T", "description": "short", "languages": "en", "genres": ["urban"], "content_rating": "all_ages",
         "territory": "ZZ", "chain_of_title": "x"},
    )  # fmt: skip
    errors = response.context["form"].errors
    assert "20 characters" in errors["description"][0]
    assert "Unknown territory code(s): ZZ" in errors["territory"][0]
    assert errors["chain_of_title"][0].startswith("Say how you hold the rights in at least a sentence")


def test_corpus_royalty_shares_are_validated_saved_shown_and_recorded(owner_client, licensor, corpus):
    from marketplace.events.models import DomainEvent
    from marketplace.orgs.models import Organisation, OrgKind

    Organisation.objects.create(name="Partner Films", slug="partner-films", kind=OrgKind.LICENSOR)
    data = {
        "title": corpus.title, "description": corpus.description, "languages": "zxx", "genres": ["nature"],
        "content_rating": "all_ages", "territory": "WW", "chain_of_title": "Co-produced with Partner Films.",
    }  # fmt: skip
    edit = url("corpus_edit", licensor, corpus_id=corpus.pk)
    for shares, message in [
        ("northlight:60;partner-films:30", "Co-owner shares sum to 90%; they must sum to 100%."),
        ("northlight:60;nobody:40",
         "Co-owner 'nobody' is not a licensor on ClearFrame (name it by its slug, as in /o/<slug>/)."),
        ("northlight:66.666;partner-films:33.334", "Share 66.666% of northlight has more than two "
         "decimals."),
        ("x" * 3000, f"{'x' * 60!r}… is not org:percent (for example northlight-studios:60)."),
    ]:  # fmt: skip
        response = owner_client.post(edit, {**data, "co_owners": shares})
        assert response.status_code == 200
        assert response.context["form"].errors["co_owners"] == [message]
    corpus.refresh_from_db()
    assert corpus.co_owners == []
    assert not DomainEvent.objects.filter(type="corpus.co_owners_changed").exists()

    response = owner_client.post(edit, {**data, "co_owners": "Partner-Films:33.33; NorthLight:66.67"})  # any case
    assert response.status_code == 302
    corpus.refresh_from_db()
    assert corpus.co_owners == [{"org": "northlight", "bp": 6667}, {"org": "partner-films", "bp": 3333}]
    page = owner_client.get(url("corpus", licensor, corpus_id=corpus.pk)).content.decode()
    assert 'Partner Films <span class="muted">(partner-films)</span></td><td class="num">33.33%' in page
    form = owner_client.get(edit).context["form"]
    assert form.initial["co_owners"] == "northlight:66.67; partner-films:33.33"
    changed = DomainEvent.objects.get(type="corpus.co_owners_changed")
    assert (changed.payload["before"], changed.payload["after"]) == ([], corpus.co_owners)

    owner_client.post(edit, {**data, "co_owners": "northlight:66.67; partner-films:33.33"})  # unchanged: no record
    assert DomainEvent.objects.filter(type="corpus.co_owners_changed").count() == 1

    # Shares that leave the listing organisation out are saved, with a warning that says where the money goes.
    saved = owner_client.post(edit, {**data, "co_owners": "partner-films:100"}, follow=True)
    warnings = [str(m) for m in saved.context["messages"] if m.level_tag == "warning"]
    assert warnings == [
        f"{licensor.organisation.name} takes no share of this corpus' royalties: they all go to Partner Films. "
        "If that is not meant, add northlight to the royalty co-owners."
    ]
    saved = owner_client.post(edit, {**data, "co_owners": "northlight:66.67; partner-films:33.33"}, follow=True)
    assert not [m for m in saved.context["messages"] if m.level_tag == "warning"]
    assert DomainEvent.objects.filter(type="corpus.co_owners_changed").count() == 3

    # A catalogue manager edits the corpus but cannot redirect royalties.
    manager = add_member(licensor.organisation, "cm@northlight.test", Role.CATALOG_MANAGER)
    owner_client.force_login(manager)
    page = owner_client.get(edit).content.decode()
    assert "Only an owner or admin of your organisation can change royalty shares." in page
    assert owner_client.get(edit).context["form"].fields["co_owners"].disabled  # shown, not editable
    # Whatever the browser sends for it, the stored shares stay.
    renamed = {**data, "co_owners": "northlight:10; partner-films:90", "title": "Renamed by the manager"}
    assert owner_client.post(edit, renamed).status_code == 302
    corpus.refresh_from_db()
    assert (corpus.title, corpus.co_owners[0]["bp"]) == ("Renamed by the manager", 6667)
    # The service refuses a change anyway, whoever calls it.
    fields = ("title", "description", "languages", "genres", "content_rating", "territory", "chain_of_title")
    as_stored = {name: getattr(corpus, name) for name in fields}
    with pytest.raises(ValidationError, match="Changing royalty shares needs an owner or admin"):
        corpora.corpus_update(access=org_access(manager, licensor.organisation.slug), corpus=corpus,
                              data={**as_stored, "co_owners": "northlight:10; partner-films:90"})  # fmt: skip


def test_upload_with_errors_then_fixed_file(owner_client, licensor, corpus):
    bad = manifest_csv([manifest_row("a1"), manifest_row("a2", sha256="nope"), manifest_row("a1")])
    response = owner_client.post(url("import_create", licensor, corpus_id=corpus.pk), {"file": upload("m.csv", bad)})
    mi = ManifestImport.objects.get()
    assert response["Location"] == url("import", licensor, import_id=mi.pk)
    imports.manifest_import_run(mi.pk)  # the worker's job
    page = owner_client.get(url("import", licensor, import_id=mi.pk)).content.decode()
    assert "The manifest has errors; nothing was changed" in page
    assert "sha256 must be 64 hexadecimal characters" in page
    assert "external_id &#x27;a1&#x27; already appears on line 2" in page
    rows = list(
        csv.reader(
            io.StringIO(
                b"".join(
                    owner_client.get(url("import_errors_csv", licensor, import_id=mi.pk)).streaming_content
                ).decode()
            )
        )
    )
    assert rows[0] == ["line", "external_id", "field", "message"]
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [("3", "a2", "sha256"), ("4", "a1", "external_id")]
    status = owner_client.get(url("import_status", licensor, import_id=mi.pk)).json()
    assert (status["status"], status["error_count"], status["finished"]) == ("invalid", 2, True)

    good = manifest_csv([manifest_row("a1"), manifest_row("a2")])
    owner_client.post(url("import_create", licensor, corpus_id=corpus.pk), {"file": upload("m.csv", good)})
    fixed = ManifestImport.objects.exclude(pk=mi.pk).get()
    imports.manifest_import_run(fixed.pk)
    page = owner_client.get(url("import", licensor, import_id=fixed.pk)).content.decode()
    assert 'id="count-added">2<' in page
    assert Asset.objects.filter(corpus=corpus).count() == 2


@override_settings(MANIFEST_MAX_BYTES=500)
def test_oversized_upload_is_stopped_while_streaming(owner_client, licensor, corpus):
    content = manifest_csv([manifest_row(f"a{i}") for i in range(20)])
    response = owner_client.post(
        url("import_create", licensor, corpus_id=corpus.pk), {"file": upload("big.csv", content)}
    )
    assert response.status_code == 400
    assert "the limit is 500 bytes" in response.content.decode()
    huge = manifest_csv([manifest_row(f"a{i}") for i in range(1_000)])  # about 300 KB, far past the limit
    response = owner_client.post(url("import_create", licensor, corpus_id=corpus.pk), {"file": upload("big.csv", huge)})
    assert response.status_code == 400 and "the limit is 500 bytes" in response.content.decode()
    assert not ManifestImport.objects.exists()


def test_withdraw_selected_assets_and_see_who_when_why(owner_client, licensor, corpus):
    import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(6)])
    ids = list(Asset.objects.filter(corpus=corpus).order_by("id").values_list("id", flat=True))
    response = owner_client.post(
        url("assets_withdraw", licensor, corpus_id=corpus.pk), {"asset": ids[:2], "reason": "Brand complaint from X"}
    )
    assert response.status_code == 302
    assert Asset.objects.filter(corpus=corpus, status="withdrawn").count() == 2
    back = url("assets", licensor, corpus_id=corpus.pk)
    for asset, (target, lands) in zip(
        ids[2:5], [(back + "?page=2", back + "?page=2"), ("//evil.example/x", back), ("https://evil.example", back)],
        strict=True,
    ):  # fmt: skip
        response = owner_client.post(
            url("assets_withdraw", licensor, corpus_id=corpus.pk), {"asset": [asset], "reason": "Again", "next": target}
        )
        assert response["Location"] == lands
    page = owner_client.get(url("withdrawals", licensor)).content.decode()
    assert "Brand complaint from X" in page
    assert licensor.user.email in page
    # Until the events are dispatched nobody has been told yet; then nobody held them (no licences here).
    assert page.count("finding the licences that hold these files") == 4 and "none held" not in page
    from marketplace.webhooks.services import events_dispatch

    events_dispatch()
    page = owner_client.get(url("withdrawals", licensor)).content.decode()
    assert page.count("none held these files") == 4 and "finding the licences" not in page
    # A page of withdrawn assets has nothing to tick: no withdraw form. A page with active ones has it.
    listing = owner_client.get(url("assets", licensor, corpus_id=corpus.pk) + "?status=withdrawn").content.decode()
    assert "Withdraw selected" not in listing and "data-select-all" not in listing and "a0" in listing
    listing = owner_client.get(url("assets", licensor, corpus_id=corpus.pk) + "?status=all").content.decode()
    assert "Withdraw selected" in listing and "data-select-all" in listing


def test_withdraw_a_pasted_or_uploaded_list_of_external_ids(owner_client, licensor, corpus, other_licensor):
    import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(6)])
    listed = url("assets_withdraw_listed", licensor, corpus_id=corpus.pk)
    # Every id must be this corpus': one unknown id withdraws nothing and is named.
    response = owner_client.post(listed, {"external_ids": "a0\nnope\n", "reason": "Takedown notice 17"})
    assert response.status_code == 400
    assert "No such asset(s) in this corpus: nope." in response.content.decode()
    assert 'id="withdraw-listed" open' in response.content.decode()
    assert not Asset.objects.filter(corpus=corpus, status="withdrawn").exists()
    response = owner_client.post(listed, {"external_ids": "", "reason": "x"})
    errors = response.context["list_form"].errors  # both problems in one round
    assert "List at least one external id" in errors["external_ids"][0] and "Say why" in errors["reason"][0]
    # Pasted (a spreadsheet column: tabs after the id) and a file (an import's missing list: id, title).
    response = owner_client.post(listed, {"external_ids": "a0\ta title\n\n a1 \na0\n", "reason": "Takedown notice 17"})
    assert response.status_code == 302
    ids_file = upload("missing.csv", b"external_id,title\na2,Clip a2\na3,Clip a3\n")
    response = owner_client.post(listed, {"ids_file": ids_file, "reason": "Takedown notice 18"})
    assert response.status_code == 302
    withdrawn = Asset.objects.filter(corpus=corpus, status="withdrawn").order_by("external_id")
    assert list(withdrawn.values_list("external_id", flat=True)) == ["a0", "a1", "a2", "a3"]
    assert list(Withdrawal.objects.order_by("id").values_list("scope", "asset_count", "reason")) == [
        ("listed", 2, "Takedown notice 17"), ("listed", 2, "Takedown notice 18"),
    ]  # fmt: skip
    response = owner_client.post(listed, {"external_ids": "a0", "reason": "Again"})
    assert "These assets are already withdrawn." in response.content.decode()
    response = owner_client.post(listed, {"external_ids": "a0\na4\na4", "reason": "Takedown notice 19"}, follow=True)
    assert "Withdrew 1 listed asset. 1 of the 2 listed was withdrawn already." in response.content.decode()
    # Each withdrawal names its assets: a CSV of their external ids, linked from the withdrawals page.
    first = Withdrawal.objects.order_by("id").first()
    csv_url = url("withdrawal_assets_csv", licensor, withdrawal_id=first.pk)
    assert csv_url in owner_client.get(url("withdrawals", licensor)).content.decode()
    body = b"".join(owner_client.get(csv_url).streaming_content).decode()
    assert body.splitlines() == ["external_id,title", "a0,Clip a0", "a1,Clip a1"]
    # Another organisation's licensor cannot reach the list form of this corpus.
    owner_client.force_login(other_licensor.user)
    response = owner_client.post(listed, {"external_ids": "a5", "reason": "Not mine"})
    assert response.status_code == 404
    assert owner_client.get(csv_url).status_code == 404
    assert Asset.objects.get(corpus=corpus, external_id="a5").status == "active"


def test_offer_editor_shows_example_pricing_and_versions(owner_client, licensor, corpus):
    form = {
        "name": "Research", "permitted_uses": ["pre_training"], "term_months": "12", "territory": "WW",
        "commission_percent": "20", "currency": "EUR", "metric": "hours", "tier_1_up_to": "1000",
        "tier_1_price": "120.00", "tier_4_price": "90.00", "no_identifiable_replicas": "on",
    }  # fmt: skip
    # The plan is priced whatever the rest of the form holds; a price problem names its field.
    unnamed = {**form, "name": "", "permitted_uses": []}
    preview = owner_client.post(url("offer_preview", licensor, corpus_id=corpus.pk), unnamed).json()
    assert preview["terms"][0] == "120.00 EUR per hour of video, up to 1,000 hours of video"
    bad = owner_client.post(url("offer_preview", licensor, corpus_id=corpus.pk), {**unnamed, "tier_1_price": "x"})
    assert bad.status_code == 400 and bad.json()["errors"]["tier_1_price"] == ["Tier 1 price: 'x' is not an amount."]
    blank = owner_client.get(url("offer_create", licensor, corpus_id=corpus.pk)).content.decode()
    assert "This market&#x27;s range: 15% to 50%." in blank and 'min="15" max="50"' in blank
    # Without JavaScript, "Update example pricing" posts the form: it prices the plan, saves nothing, and flags
    # only the plan's problems, not the name or uses still to be filled in.
    page = owner_client.post(url("offer_create", licensor, corpus_id=corpus.pk), {**unnamed, "preview": "1"})
    assert page.status_code == 200 and not Offer.objects.exists()
    assert dict(page.context["form"].errors) == {}
    assert "12,000.00 EUR" in page.content.decode()
    page = owner_client.post(
        url("offer_create", licensor, corpus_id=corpus.pk), {**unnamed, "tier_4_price": "x", "preview": "1"}
    )
    assert list(page.context["form"].errors) == ["tier_4_price"] and page.context["examples"] == []
    assert "Price beyond the last tier: &#x27;x&#x27; is not an amount." in page.content.decode()
    # The plan's own rules name their field too, in both previews.
    negative = {**unnamed, "tier_4_price": "-5", "preview": "1"}
    page = owner_client.post(url("offer_create", licensor, corpus_id=corpus.pk), negative)
    assert list(page.context["form"].errors) == ["tier_4_price"]
    assert page.context["example_error"] == "Price beyond the last tier: Prices cannot be negative."
    bad = owner_client.post(url("offer_preview", licensor, corpus_id=corpus.pk), negative)
    assert bad.json()["errors"] == {"tier_4_price": ["Price beyond the last tier: Prices cannot be negative."]}
    # A save that fails on the name prices what was typed too, with the plan in words.
    page = owner_client.post(url("offer_create", licensor, corpus_id=corpus.pk), unnamed)
    assert "name" in page.context["form"].errors
    assert page.context["terms"][0] == "120.00 EUR per hour of video, up to 1,000 hours of video"
    assert [q.total for _, q in page.context["examples"]] == [1_200_000, 12_000_000, 93_000_000]
    preview = owner_client.post(url("offer_preview", licensor, corpus_id=corpus.pk), form).json()
    assert preview["terms"] == [
        "120.00 EUR per hour of video, up to 1,000 hours of video",
        "90.00 EUR per hour of video past 1,000 hours of video",
    ]
    assert [e["total"] for e in preview["examples"]] == ["12,000.00 EUR", "120,000.00 EUR", "930,000.00 EUR"]
    assert preview["whole_corpus"] is None  # an empty corpus has no whole to price
    # With assets, the whole corpus once: 1 h 30 min at 120.00 EUR an hour.
    import_rows(
        licensor, corpus, [manifest_row("a", duration_seconds="3600"), manifest_row("b", duration_seconds="1800")]
    )
    preview = owner_client.post(url("offer_preview", licensor, corpus_id=corpus.pk), form).json()
    assert preview["whole_corpus"] == {"running_time": "1 h 30 min", "total": "180.00 EUR"}
    # A cap and a guarantee: each term stated once, and a note only for what the totals include besides.
    capped = {**form, "usage_cap": "5000", "minimum_guarantee": "50000"}
    preview = owner_client.post(url("offer_preview", licensor, corpus_id=corpus.pk), capped).json()
    assert "Usage past 5,000 hours of video is recorded but not charged" in preview["terms"]
    assert preview["notes"] == ["At 100 hours, the minimum guarantee applies: usage below it is billed up to it."]
    assert [e["total"] for e in preview["examples"]] == ["50,000.00 EUR", "120,000.00 EUR", "480,000.00 EUR"]
    bad = owner_client.post(url("offer_preview", licensor, corpus_id=corpus.pk), {**form, "tier_4_price": "1.234"})
    assert bad.status_code == 400
    assert "more decimal places" in str(bad.json()["errors"])
    for amount, message in (("Infinity", "is not an amount"), ("NaN", "is not an amount"), ("1e12", "largest price")):
        bad = owner_client.post(url("offer_preview", licensor, corpus_id=corpus.pk), {**form, "tier_4_price": amount})
        assert bad.status_code == 400
        assert message in str(bad.json()["errors"]["tier_4_price"])
    bad = owner_client.post(url("offer_preview", licensor, corpus_id=corpus.pk), {**form, "tier_1_up_to": "Infinity"})
    assert bad.status_code == 400
    assert "not a finite number" in str(bad.json()["errors"])

    response = owner_client.post(url("offer_create", licensor, corpus_id=corpus.pk), form)
    assert response.status_code == 302
    offer = Offer.objects.get()
    assert offer.current_version.price_plan["tiers"] == [
        {"up_to": "1000", "unit_price": 12000},
        {"up_to": None, "unit_price": 9000},
    ]
    owner_client.post(url("offer_publish", licensor, offer_id=offer.pk))
    page = owner_client.get(url("offer_edit", licensor, offer_id=offer.pk)).content.decode()
    assert "120,000.00 EUR" in page
    assert "<li>90.00 EUR per hour of video past 1,000 hours of video</li>" in page
    # Previewing a change (without JavaScript) shows it, in the totals and in words; a failed save keeps it.
    for extra in ({"preview": "1"}, {"name": ""}):
        edit = url("offer_edit", licensor, offer_id=offer.pk)
        text = owner_client.post(edit, {**form, "tier_4_price": "200"} | extra).content.decode()
        assert "<li>200.00 EUR per hour of video past 1,000 hours of video</li>" in text and "90.00 EUR per" not in text
        assert "1,920,000.00 EUR" in text
    assert offer.versions.count() == 1
    owner_client.post(
        url("offer_edit", licensor, offer_id=offer.pk), {**form, "name": "Research+", "tier_4_price": "80.00"}
    )
    assert list(offer.versions.values_list("number", "published", "name")) == [
        (1, True, "Research"),
        (2, True, "Research+"),
    ]
    assert offer.versions.get(number=1).price_plan["tiers"][1]["unit_price"] == 9000  # version 1 is frozen
    # Saved again without a change: no third version goes live.
    again = owner_client.post(
        url("offer_edit", licensor, offer_id=offer.pk), {**form, "name": "Research+", "tier_4_price": "80.00"},
        follow=True,
    )  # fmt: skip
    assert "Nothing changed: version 2 stays on sale as it was." in again.content.decode()
    assert offer.versions.count() == 2


def test_offer_form_reports_plan_errors_next_to_fields(owner_client, licensor, corpus):
    response = owner_client.post(
        url("offer_create", licensor, corpus_id=corpus.pk),
        {"name": "X", "permitted_uses": ["evaluation"], "term_months": "12", "territory": "WW",
         "commission_percent": "60", "currency": "EUR", "metric": "hours"},
    )  # fmt: skip
    errors = response.context["form"].errors
    assert "Give the price per unit" in errors["tier_4_price"][0]
    response = owner_client.post(
        url("offer_create", licensor, corpus_id=corpus.pk),
        {"name": "X", "permitted_uses": ["evaluation"], "term_months": "12", "territory": "WW",
         "commission_percent": "60", "currency": "EUR", "metric": "hours", "tier_4_price": "10"},
    )  # fmt: skip
    assert "between 15% and 50%" in response.context["form"].errors["commission_percent"][0]
    base = {"name": "X", "permitted_uses": ["evaluation"], "term_months": "12", "territory": "WW",
            "commission_percent": "20", "currency": "EUR", "metric": "hours"}  # fmt: skip
    # A tier with a bound but no price is an error, not a free tier.
    response = owner_client.post(
        url("offer_create", licensor, corpus_id=corpus.pk), {**base, "tier_1_up_to": "1000", "tier_4_price": "5.00"}
    )
    assert response.context["form"].errors["tier_1_price"] == ["Give this tier's price per unit."]
    # The service's errors land on the field they are about, though empty tiers are not sent.
    response = owner_client.post(url("offer_create", licensor, corpus_id=corpus.pk), {**base, "tier_4_price": "-1.00"})
    assert "negative" in " ".join(response.context["form"].errors.get("tier_4_price", []))
    response = owner_client.post(
        url("offer_create", licensor, corpus_id=corpus.pk),
        {**base, "tier_2_up_to": "100", "tier_2_price": "2.00", "tier_3_up_to": "50", "tier_3_price": "1.00",
         "tier_4_price": "0.50"},
    )  # fmt: skip
    assert response.context["form"].errors["tier_3_up_to"] == ["Each tier must end above the previous one."]
    response = owner_client.post(
        url("offer_create", licensor, corpus_id=corpus.pk),
        {**base, "tier_2_up_to": "100", "tier_2_price": "-2.00", "tier_4_price": "0.50"},
    )
    assert response.context["form"].errors["tier_2_price"] == ["Prices cannot be negative."]
    response = owner_client.post(
        url("offer_create", licensor, corpus_id=corpus.pk),
        {**base, "tier_4_price": "5.00", "prepaid_commitment": "100.00", "overage_price": "-5.00"},
    )
    assert response.context["form"].errors["overage_price"] == ["Cannot be negative."]
    assert not Offer.objects.exists()


def test_a_long_review_queue_pages_oldest_first_and_the_dashboard_shows_the_first_few(client, licensor, operator):
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(30):
        corpus = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "title": f"Queued {i:02d}"})
        Corpus.objects.filter(pk=corpus.pk).update(status="in_review", submitted_at=start + dt.timedelta(hours=i))
    client.force_login(operator.user)
    first = client.get(url("review_queue", operator)).content.decode()
    assert first.count("Queued ") == 25 and "Queued 00" in first and "Queued 25" not in first
    assert "Page 1 of 2" in first and "queue_page=2" in first
    second = client.get(url("review_queue", operator) + "?queue_page=2&changes_page=1").content.decode()
    assert second.count("Queued ") == 5 and "Queued 29" in second and "Queued 24" not in second
    assert "?changes_page=1&amp;queue_page=1" in second  # paging one list keeps the other's page

    dashboard = client.get(reverse("orgs:dashboard", args=[operator.organisation.slug])).content.decode()
    assert dashboard.count("Queued ") == 10 and "Queued 09" in dashboard and "Queued 10" not in dashboard
    assert "The whole review queue (30)" in dashboard


def test_submit_review_publish_and_find_in_catalogue(client, licensor, operator, listed_corpus):
    client.force_login(licensor.user)
    client.post(url("corpus_submit", licensor, corpus_id=listed_corpus.pk))
    listed_corpus.refresh_from_db()
    assert listed_corpus.status == "in_review"
    assert listed_corpus.title not in client.get(reverse("catalog:public_list")).content.decode()

    client.force_login(operator.user)
    queue = client.get(url("review_queue", operator)).content.decode()
    assert listed_corpus.title in queue
    # Everything the listing would show: its facts, its offers' terms and example prices.
    review = client.get(url("review", operator, corpus_id=listed_corpus.pk)).content.decode()
    for shown in ("Rights territory", "Content rating", "Research licence", "10,000 hours", "No previews.",
                  "100.00 EUR per hour of video", "20% to the marketplace"):  # fmt: skip
        assert shown in review, shown
    response = client.post(url("review", operator, corpus_id=listed_corpus.pk), {"decision": "reject", "note": ""})
    assert "Say why the listing is rejected" in response.content.decode()
    client.post(url("review", operator, corpus_id=listed_corpus.pk), {"decision": "reject", "note": "Add releases"})
    listed_corpus.refresh_from_db()
    assert (listed_corpus.status, listed_corpus.review_note) == ("draft", "Add releases")

    client.force_login(licensor.user)
    assert "Add releases" in client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()
    assert ">Sent back<" in client.get(url("corpus_list", licensor)).content.decode()
    client.post(url("corpus_submit", licensor, corpus_id=listed_corpus.pk))
    client.force_login(operator.user)
    # The earlier reason is on the review page; a note without a decision publishes nothing.
    review = client.get(url("review", operator, corpus_id=listed_corpus.pk)).content.decode()
    assert "Sent back before" in review and "Add releases" in review
    response = client.post(url("review", operator, corpus_id=listed_corpus.pk), {"note": "Missing model releases"})
    assert "Choose whether to approve the listing or send it back." in response.content.decode()
    listed_corpus.refresh_from_db()
    assert listed_corpus.status == "in_review"
    client.post(url("review", operator, corpus_id=listed_corpus.pk), {"decision": "approve", "note": "Nice set"})
    client.force_login(licensor.user)
    page = client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()
    assert "The operator approved this listing with a note: Nice set" in page
    client.force_login(operator.user)
    client.logout()
    listing = client.get(reverse("catalog:public_list") + "?q=ports&use=pre_training&territory=FR").content.decode()
    assert listed_corpus.title in listing
    page = client.get(reverse("catalog:public_corpus", args=[listed_corpus.slug])).content.decode()
    assert "Research licence" in page and "100.00 EUR per hour of video" in page  # the plan, not only examples
    assert '<tr class="whole-corpus"><td>The whole corpus, once (' in page
    assert "to the marketplace" not in page  # the commission is between the licensor and the market
    assert '<span class="tag">Nature and wildlife</span>' in page  # genres by name, as the filter names them
    assert '<span class="tag">Nature and wildlife</span>' in listing
    assert ">Licensable in WW</span>" in listing  # where its offers grant, not the rights held
    assert "a0" in page  # sample assets
    listed_corpus.refresh_from_db()
    size = imports.human_size(listed_corpus.total_bytes)
    assert size.endswith((" kB", " MB", " GB", " TB")) and f'">{size}</div>' in page
    assert f"{listed_corpus.total_bytes:,} bytes" in page  # and exactly
    assert f'title="{listed_corpus.total_bytes:,} bytes">{size}</span>' in listing  # the card too, on hover


def test_a_decision_from_a_page_loaded_before_the_listing_was_submitted_again_is_refused(
    client, licensor, operator, listed_corpus
):
    import re

    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    client.force_login(operator.user)
    page = client.get(url("review", operator, corpus_id=listed_corpus.pk)).content.decode()
    submitted = re.search(r'name="submitted" value="([^"]+)"', page).group(1)
    # Meanwhile another reviewer sends it back, and the licensor changes its chain of title and submits it again.
    corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=False, note="Say who shot it")
    corpora.corpus_update(
        access=licensor, corpus=listed_corpus,
        data={**CORPUS_DATA, "chain_of_title": "Bought from a stock library; the contract is lost."},
    )  # fmt: skip
    corpora.corpus_submit(access=licensor, corpus=listed_corpus)

    response = client.post(
        url("review", operator, corpus_id=listed_corpus.pk), {"decision": "approve", "submitted": submitted}
    )
    assert response.status_code == 200
    assert "submitted this listing again since this page was loaded" in response.content.decode()
    listed_corpus.refresh_from_db()
    assert listed_corpus.status == "in_review"
    # The page now shows the listing as submitted, and a decision from it is taken.
    page = response.content.decode()
    assert "the contract is lost" in page
    resent = re.search(r'name="submitted" value="([^"]+)"', page).group(1)
    assert resent != submitted
    client.post(url("review", operator, corpus_id=listed_corpus.pk), {"decision": "approve", "submitted": resent})
    listed_corpus.refresh_from_db()
    assert listed_corpus.status == "published"


def test_the_record_of_a_listing_names_who_submitted_it_and_who_decided(licensor, operator, listed_corpus):
    from marketplace.events.models import DomainEvent

    reviewer = add_member(operator.organisation, "reviewer@market.example", Role.CATALOG_MANAGER)
    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    corpora.corpus_review(
        access=org_access(reviewer, operator.organisation.slug), corpus_id=listed_corpus.pk, approve=False,
        note="Add model releases",
    )  # fmt: skip
    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=True)
    record = [
        (e.type, e.payload["by"], e.payload.get("note"))
        for e in DomainEvent.objects.filter(subject=f"corpus:{listed_corpus.pk}").order_by("id")
    ]
    assert record == [
        ("corpus.submitted", licensor.user.pk, None),
        ("corpus.rejected", reviewer.pk, "Add model releases"),
        ("corpus.submitted", licensor.user.pk, None),
        ("corpus.published", operator.user.pk, ""),
    ]


def test_a_published_corpus_with_nothing_to_sell_leaves_the_catalogue_and_says_why(
    client, licensor, operator, listed_corpus
):
    from marketplace.catalog.services import corpora

    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=True)
    public = reverse("catalog:public_corpus", args=[listed_corpus.slug])
    client.force_login(licensor.user)
    page = client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()
    assert f'href="{public}"' in page and "not in the public catalogue" not in page

    ids = list(Asset.objects.filter(corpus=listed_corpus).values_list("id", flat=True))
    withdrawals.assets_withdraw(access=licensor, corpus=listed_corpus, asset_ids=ids, reason="Rights lapsed")
    page = client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()
    assert "Published, but not in the public catalogue: it has no active assets." in page
    assert f'href="{public}"' not in page
    for offer in listed_corpus.offers.all():
        offers.offer_archive(access=licensor, offer=offer)
    page = client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()
    assert "not in the public catalogue: it has no active assets and it has no published offer." in page
    client.logout()
    assert listed_corpus.title not in client.get(reverse("catalog:public_list")).content.decode()
    assert client.get(public).status_code == 404


def test_submit_needs_assets_and_a_published_offer(owner_client, licensor, corpus):
    page = owner_client.get(url("corpus", licensor, corpus_id=corpus.pk)).content.decode()
    assert 'disabled aria-describedby="submit-readiness">Submit for review' in page
    assert '<span class="status queued">to do</span> Import a manifest with at least one asset' in page
    response = owner_client.post(url("corpus_submit", licensor, corpus_id=corpus.pk), follow=True)
    assert (
        "import a manifest with at least one asset and publish at least one licence offer" in response.content.decode()
    )
    import_rows(licensor, corpus, [manifest_row("a0")])
    page = owner_client.get(url("corpus", licensor, corpus_id=corpus.pk)).content.decode()
    assert '<span class="status done">done</span> Import a manifest with at least one asset' in page
    assert '<span class="status queued">to do</span> Publish at least one licence offer' in page
    offers.offer_publish(
        access=licensor, offer=offers.offer_save(access=licensor, corpus=corpus, data=OFFER_DATA).offer
    )
    page = owner_client.get(url("corpus", licensor, corpus_id=corpus.pk)).content.decode()
    assert 'id="submit-readiness"' not in page and '<button class="btn" type="submit">Submit for review' in page
    withdrawals.assets_withdraw(
        access=licensor, corpus=corpus, asset_ids=list(corpus.assets.values_list("id", flat=True)), reason="Recalled"
    )
    page = owner_client.get(url("corpus", licensor, corpus_id=corpus.pk)).content.decode()
    assert "every asset of this corpus is withdrawn, so import a manifest listing new external ids" in page


def test_catalogue_filters(client, licensor, operator, listed_corpus):
    from marketplace.catalog.services import corpora

    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=True)
    base = reverse("catalog:public_list")
    title = listed_corpus.title
    assert title in client.get(base).content.decode()
    assert title in client.get(base + "?genre=nature&language=zxx&min_hours=0.01").content.decode()
    assert title not in client.get(base + "?genre=sports").content.decode()
    assert title not in client.get(base + "?use=retrieval").content.decode()
    assert title not in client.get(base + "?min_hours=100").content.decode()
    assert title in client.get(base + "?max_price=100&currency=EUR").content.decode()  # 100.00 EUR per hour
    assert title not in client.get(base + "?max_price=99.99&currency=EUR").content.decode()
    # An offer in yen, fewer units than the euro one: each currency compares with its own prices.
    from marketplace.catalog.services import offers

    yen = {**OFFER_DATA, "name": "Yen", "currency": "JPY",
           "price_plan": {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 5000}]}}  # fmt: skip
    offers.offer_publish(
        access=licensor, offer=offers.offer_save(access=licensor, corpus=listed_corpus, data=yen).offer
    )
    listed_corpus.refresh_from_db()
    assert listed_corpus.prices_per_hour == {"EUR": 10000, "JPY": 5000}
    # The card shows the price in the chosen currency, not the fewest minor units of any.
    assert "from 100.00 EUR per hour" in client.get(base + "?currency=EUR").content.decode()
    assert "from 5,000 JPY per hour" in client.get(base + "?currency=JPY").content.decode()
    assert title in client.get(base + "?max_price=200&currency=EUR").content.decode()
    assert title in client.get(base + "?max_price=5000&currency=JPY").content.decode()
    assert title not in client.get(base + "?max_price=4999&currency=JPY").content.decode()
    assert title not in client.get(base + "?max_price=1000&currency=USD").content.decode()
    assert "Enter a number of hours" in client.get(base + "?min_hours=lots").content.decode()
    for odd in ("NaN", "sNaN", "Infinity", "-Infinity", "1e999999", "-1", "1" * 60):
        hours, price = client.get(base + f"?min_hours={odd}"), client.get(base + f"?max_price={odd}&currency=EUR")
        assert (hours.status_code, price.status_code) == (200, 200), odd
        assert "Enter a number of hours" in hours.content.decode()
        assert "Enter a price per hour" in price.content.decode()
        assert title in hours.content.decode() and title in price.content.decode()  # a bad filter filters nothing
    for query, message in (
        ("territory=XX", "Unknown territory code: XX."),
        ("territory=U", "Unknown territory code: U."),
        ("language=english", "Choose a language from the list"),
        ("genre=bogus", "Choose a genre from the list."),
        ("use=mining", "Choose a permitted use from the list."),
        ("currency=XYZ&max_price=5", "Choose one of EUR, USD"),
    ):
        page = client.get(f"{base}?{query}").content.decode()
        assert message in page and title in page, query
        assert "Enter a price per hour" not in page  # the currency is what is wrong, not the price
    yen = client.get(base + "?max_price=100.5&currency=JPY").content.decode()
    assert "Enter a price per hour in JPY, like 120." in yen and 'aria-describedby="max_price_error"' in yen
    tagged = client.get(base + "?language=pt-BR").content.decode()
    assert '<option value="pt-BR" selected>' in tagged  # shown as chosen, though not in the list
    lower = client.get(base + "?territory=jp").content.decode()  # lower case is read
    assert title in lower and "Unknown territory" not in lower
    assert client.get(reverse("catalog:public_corpus", args=["no-such-corpus"])).status_code == 404


@pytest.mark.parametrize(
    ("role", "can_manage"),
    [(Role.ADMIN, True), (Role.CATALOG_MANAGER, True), (Role.FINANCE, False), (Role.VIEWER, False)],
)
def test_roles_inside_the_organisation(client, licensor, corpus, role, can_manage):
    member = add_member(licensor.organisation, f"{role}@northlight.example", role)
    client.force_login(member)
    assert client.get(url("corpus", licensor, corpus_id=corpus.pk)).status_code == 200
    response = client.get(url("corpus_create", licensor))
    assert response.status_code == (200 if can_manage else 403)
    if not can_manage:  # the reason, on a page with the site's header and a way back
        page = response.content.decode()
        assert (
            "does not allow managing its catalogue; an owner or admin can change your role." in page
            and "Back to your dashboard" in page
        )
    assert ("New corpus" in client.get(url("corpus_list", licensor)).content.decode()) == can_manage
    response = client.post(
        url("import_create", licensor, corpus_id=corpus.pk),
        {"file": upload("m.csv", manifest_csv([manifest_row("a")]))},
    )
    assert (response.status_code in (302,)) == can_manage
    assert ManifestImport.objects.exists() == can_manage


def test_licensee_cannot_reach_catalogue_management(client, licensee):
    client.force_login(licensee.user)
    response = client.get(url("corpus_create", licensee))
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert client.get(reverse("orgs:dashboard", args=[licensee.organisation.slug])).status_code == 200


def test_import_progress_page_polls_until_done(owner_client, licensor, corpus):
    owner_client.post(
        url("import_create", licensor, corpus_id=corpus.pk),
        {"file": upload("m.csv", manifest_csv([manifest_row("a")]))},
    )
    mi = ManifestImport.objects.get()
    page = owner_client.get(url("import", licensor, import_id=mi.pk)).content.decode()
    assert f'data-import-status-url="{url("import_status", licensor, import_id=mi.pk)}"' in page
    assert "<progress" in page
    assert owner_client.get(url("import_status", licensor, import_id=mi.pk)).json()["status"] == ImportStatus.QUEUED
    # Checking: a percentage. Applying (one transaction): an indeterminate bar and the row count.
    ManifestImport.objects.filter(pk=mi.pk).update(status=ImportStatus.VALIDATING, progress=42, rows_seen=1200)
    status = owner_client.get(url("import_status", licensor, import_id=mi.pk)).json()
    assert (status["status_label"], status["percent"]) == ("Validating", 42)
    assert 'value="42">42%</progress>' in owner_client.get(url("import", licensor, import_id=mi.pk)).content.decode()
    ManifestImport.objects.filter(pk=mi.pk).update(status=ImportStatus.APPLYING)
    assert owner_client.get(url("import_status", licensor, import_id=mi.pk)).json()["percent"] is None
    page = owner_client.get(url("import", licensor, import_id=mi.pk)).content.decode()
    assert "data-progress-label>Applying 1,200 rows…</label>" in page
    assert '<progress id="import-progress" max="100">Applying</progress>' in page


def test_catalogue_filters_read_the_offer_terms_on_sale_now(client, licensor, operator, listed_corpus):
    from marketplace.catalog.services import corpora, offers

    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=True)
    base, title = reverse("catalog:public_list"), listed_corpus.title
    assert title in client.get(base + "?use=pre_training").content.decode()
    offer = listed_corpus.offers.get()
    offers.offer_save(
        access=licensor, corpus=listed_corpus, offer=offer, data={**OFFER_DATA, "permitted_uses": ["evaluation"]}
    )
    offers.offer_publish(access=licensor, offer=offer)
    assert offer.versions.filter(published=True).count() == 2
    assert title not in client.get(base + "?use=pre_training").content.decode()  # version 1 allowed it, 2 does not
    assert title in client.get(base + "?use=evaluation").content.decode()
    # The territory is the offer's too: a worldwide corpus whose only offer covers the US is not for France.
    offers.offer_save(
        access=licensor, corpus=listed_corpus, offer=offer,
        data={**OFFER_DATA, "permitted_uses": ["evaluation"], "territory": ["US"]},
    )  # fmt: skip
    assert title in client.get(base + "?territory=US&use=evaluation").content.decode()
    assert title not in client.get(base + "?territory=FR").content.decode()
    # One offer must grant both: pre-training in France from two different offers licenses neither.
    offers.offer_save(
        access=licensor, corpus=listed_corpus,
        data={**OFFER_DATA, "name": "France", "permitted_uses": ["pre_training"], "territory": ["FR"]},
    )  # fmt: skip
    offers.offer_publish(access=licensor, offer=listed_corpus.offers.get(name="France"))
    assert title in client.get(base + "?territory=FR&use=pre_training").content.decode()
    assert title not in client.get(base + "?territory=FR&use=evaluation").content.decode()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def no_media_route(name: str) -> bool:
    """Build the URLconf as DEBUG would (it once served MEDIA_ROOT there) and try to resolve an upload."""
    import importlib

    from django.urls import Resolver404, resolve

    import config.urls

    with override_settings(DEBUG=True):
        debug_urls = importlib.reload(config.urls)
    try:
        resolve("/media/" + name, urlconf=debug_urls)
    except Resolver404:
        return True
    finally:
        importlib.reload(config.urls)
    return False


def test_previews_are_checked_by_content_and_served_only_to_who_may_see_the_corpus(
    client, licensor, other_licensor, operator, listed_corpus
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from marketplace.catalog.models import PreviewMedia
    from marketplace.catalog.services import corpora

    client.force_login(licensor.user)
    disguised = SimpleUploadedFile("cat.png", b"<html><script>alert(1)</script></html>", content_type="image/png")
    response = client.post(
        url("preview_upload", licensor, corpus_id=listed_corpus.pk), {"file": disguised, "caption": "Kept"}
    )
    # Next to the field, with the caption kept; the page's three forms each label their own fields.
    assert response.status_code == 400
    errors = response.context["preview_form"].errors["file"]
    assert "Upload an image (JPEG, PNG, WebP) or a short video clip" in errors[0]
    page = response.content.decode()
    assert 'value="Kept"' in page and page.count('id="id_file"') == 1 and 'id="id_preview_file"' in page
    png = SimpleUploadedFile("../../evil name.html", PNG, content_type="text/html")
    client.post(url("preview_upload", licensor, corpus_id=listed_corpus.pk), {"file": png, "caption": "Harbour"})
    preview = PreviewMedia.objects.get()
    assert preview.kind == "image" and preview.file.name.endswith(".png") and "evil" not in preview.file.name
    link = reverse("catalog:preview_file", args=[preview.pk])
    assert link in client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()

    served = client.get(link)
    assert served.status_code == 200 and b"".join(served.streaming_content) == PNG
    assert (served["Content-Type"], served["X-Content-Type-Options"]) == ("image/png", "nosniff")
    assert "sandbox" in served["Content-Security-Policy"] and "private" in served["Cache-Control"]
    assert no_media_route(preview.file.name)  # no public folder of uploads, even with DEBUG on

    # A draft's previews: its organisation only; once submitted, the operators who review listings too.
    client.force_login(other_licensor.user)
    assert client.get(link).status_code == 404
    client.logout()
    assert client.get(link).status_code == 404
    client.force_login(operator.user)
    assert client.get(link).status_code == 404  # never submitted
    with pytest.raises(ValidationError, match="another organisation"):
        corpora.preview_add(access=other_licensor, corpus=listed_corpus, upload=SimpleUploadedFile("x.png", PNG))
    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    assert client.get(link).status_code == 200
    bookkeeper = add_member(operator.organisation, "books@market.example", Role.FINANCE)
    client.force_login(bookkeeper)
    assert client.get(link).status_code == 404  # an operator's finance role reviews nothing

    # Once published, anyone.
    corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=True)
    client.logout()
    assert link in client.get(reverse("catalog:public_corpus", args=[listed_corpus.slug])).content.decode()
    public = client.get(link)
    assert public.status_code == 200 and public["Cache-Control"] == "public, no-cache"  # kept, but asked again
    assert client.get(link, HTTP_IF_NONE_MATCH=public["ETag"]).status_code == 304


@override_settings(PREVIEW_MAX_BYTES=2000)
def test_an_oversized_preview_is_stopped_while_streaming(owner_client, licensor, listed_corpus):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from marketplace.catalog.models import PreviewMedia

    page = owner_client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()
    assert "up to 2.0 kB" in page
    big = SimpleUploadedFile("big.png", PNG + b"\0" * 5000, content_type="image/png")
    response = owner_client.post(
        url("preview_upload", licensor, corpus_id=listed_corpus.pk), {"file": big, "caption": "Harbour"}
    )
    assert response.status_code == 400
    errors = response.context["preview_form"].errors["file"]
    assert errors == ["The file is 5.3 kB; previews are limited to 2.0 kB."]  # the body as sent
    assert not PreviewMedia.objects.exists()
    # Declared far over the limit: stopped at its first chunk, with the same answer rather than a server error.
    huge = SimpleUploadedFile("huge.png", PNG + b"\0" * 200_000, content_type="image/png")
    response = owner_client.post(
        url("preview_upload", licensor, corpus_id=listed_corpus.pk), {"caption": "Harbour", "file": huge}
    )
    assert response.status_code == 400
    assert "previews are limited to 2.0 kB" in response.context["preview_form"].errors["file"][0]
    assert 'value="Harbour"' in response.content.decode()  # sent before the file, so kept
    assert not PreviewMedia.objects.exists()


def test_only_a_published_corpus_has_a_public_page(client, licensor, operator, listed_corpus):
    from marketplace.catalog.services import corpora, withdrawals

    page = reverse("catalog:public_corpus", args=[listed_corpus.slug])
    assert client.get(page).status_code == 404  # draft
    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    assert client.get(page).status_code == 404  # in review
    client.force_login(licensor.user)
    assert client.get(page).status_code == 404  # not even for its own licensor
    corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=True)
    assert client.get(page).status_code == 200
    withdrawals.corpus_withdraw(access=licensor, corpus=listed_corpus, reason="Rights dispute with the estate")
    assert client.get(page).status_code == 404
    assert listed_corpus.title not in client.get(reverse("catalog:public_list")).content.decode()
    # Its own page no longer looks on sale: no price, its offers off sale, nothing to archive.
    own = client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()
    assert "Off sale: corpus withdrawn" in own and ">Archive<" not in own and "EUR</div>" not in own
    # Its offers' terms are shown read-only, and no form offers a save that would be refused.
    offer = Offer.objects.get(corpus=listed_corpus)
    terms = client.get(url("offer_edit", licensor, offer_id=offer.pk)).content.decode()
    assert "This corpus is withdrawn: its offers are off sale" in terms and "Save offer" not in terms
    assert "data-confirm" not in terms and terms.count("<fieldset disabled>") == 3
    for name in ("offer_create", "corpus_edit"):
        response = client.get(url(name, licensor, corpus_id=listed_corpus.pk), follow=True)
        assert response.redirect_chain[-1][0] == url("corpus", licensor, corpus_id=listed_corpus.pk), name
        assert "withdrawn corpus" in response.content.decode(), name


def test_an_archived_offer_stays_off_sale(owner_client, licensor, listed_corpus):
    offer = Offer.objects.get(corpus=listed_corpus)
    owner_client.post(url("offer_archive", licensor, offer_id=offer.pk))
    offer.refresh_from_db()
    assert offer.status == "archived"
    response = owner_client.post(url("offer_publish", licensor, offer_id=offer.pk), follow=True)
    assert "An archived offer stays off sale" in response.content.decode()
    offer.refresh_from_db()
    assert offer.status == "archived"


def test_a_member_without_the_role_gets_404_for_any_offer_page_own_or_not(
    client, licensor, other_licensor, listed_corpus
):
    """A role check must not tell another organisation's ids from ours: both are 404."""
    theirs = Offer.objects.get(corpus=listed_corpus)
    viewer = add_member(other_licensor.organisation, "viewer@harbour.example", Role.VIEWER)
    client.force_login(viewer)
    for name in ("offer_edit", "offer_archive", "offer_publish"):
        assert client.post(url(name, other_licensor, offer_id=theirs.pk)).status_code == 404, name
    assert client.get(url("corpus_edit", other_licensor, corpus_id=listed_corpus.pk)).status_code == 404
    own_viewer = add_member(licensor.organisation, "viewer@northlight.example", Role.VIEWER)
    client.force_login(own_viewer)
    assert client.post(url("offer_archive", licensor, offer_id=theirs.pk)).status_code == 404
    assert client.get(url("corpus_create", licensor)).status_code == 403  # no id: the role is explained
    theirs.refresh_from_db()
    assert theirs.status == "published"
    # Its own viewer reads the offer's terms, with nothing to save them, and cannot post a change.
    page = client.get(url("offer_edit", licensor, offer_id=theirs.pk)).content.decode()
    assert "Only a catalogue manager, admin or owner of your organisation can change these terms." in page
    assert "<fieldset disabled>" in page and "Save offer" not in page
    data = {**OFFER_DATA, "name": "Changed by a viewer", "territory": "WW", "commission_percent": "20"}
    assert client.post(url("offer_edit", licensor, offer_id=theirs.pk), data).status_code == 404
    assert client.get(url("offer_create", licensor, corpus_id=listed_corpus.pk)).status_code == 404
    assert theirs.current_version.name == "Research licence"


def test_corpus_languages_are_checked_normalised_and_found_by_their_language(client, licensor, operator):
    from django.core.exceptions import ValidationError

    from marketplace.catalog.services import corpora, offers

    with pytest.raises(ValidationError) as caught:
        corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "languages": ["EN", "<b>x</b>", "???"]})
    assert caught.value.message_dict["languages"] == [
        "Not a language tag: <b>x</b>, ???. Use BCP 47 tags such as en, pt-BR or zxx."
    ]
    # Well formed is not enough: the language, script and region must exist.
    with pytest.raises(ValidationError) as caught:
        corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "languages": ["xx", "en-QQ", "zh-Abcd", "yue"]})
    assert caught.value.message_dict["languages"] == [
        "Unknown language: xx (xx is not a language in ISO 639), en-QQ (QQ is not a region in ISO 3166), zh-Abcd "
        "(Abcd is not a script in ISO 15924). Use BCP 47 tags such as en, pt-BR or zxx."
    ]
    listing = client.get(reverse("catalog:public_list"), {"language": "xx"})
    assert listing.context["errors"]["language"].startswith("Choose a language from the list")
    corpus = corpora.corpus_create(
        access=licensor, data={**CORPUS_DATA, "languages": ["PT-br", "pt-BR", "zh-hant-tw", "EN"]}
    )
    assert corpus.languages == ["pt-BR", "zh-Hant-TW", "en"]
    from marketplace.web.templatetags.display import language_names

    assert language_names([*corpus.languages, "zxx", "yue"]) == (
        "Portuguese (pt-BR), Chinese (zh-Hant-TW), English (en), No linguistic content (zxx), Yue Chinese (yue)"
    )
    import_rows(licensor, corpus, [manifest_row("a")])
    offer = offers.offer_save(access=licensor, corpus=corpus, data=OFFER_DATA).offer
    offers.offer_publish(access=licensor, offer=offer)
    corpora.corpus_submit(access=licensor, corpus=corpus)
    corpora.corpus_review(access=operator, corpus_id=corpus.pk, approve=True)
    base = reverse("catalog:public_list")
    for language, found in (("pt", True), ("PT-br", True), ("pt-PT", False), ("zh", True), ("en", True), ("fr", False)):
        assert (corpus.title in client.get(f"{base}?language={language}").content.decode()) == found, language


def test_asset_list_pages_keep_a_search_with_reserved_characters(owner_client, licensor, corpus):
    import_rows(licensor, corpus, [manifest_row(f"a{i:02d}", title=f"Clip & #{i}") for i in range(60)])
    response = owner_client.get(url("assets", licensor, corpus_id=corpus.pk), {"q": "Clip & #"})
    listing = url("assets", licensor, corpus_id=corpus.pk)
    assert f'href="{listing}?status=active&amp;q=Clip+%26+%23&amp;page=2"' in response.content.decode()
    second = owner_client.get(url("assets", licensor, corpus_id=corpus.pk) + "?status=active&q=Clip+%26+%23&page=2")
    assert second.content.decode().count('name="asset"') == 10


def test_saving_an_offer_unchanged_keeps_a_free_overage(owner_client, licensor, corpus):
    """An overage price of 0 (free past the commitment) differs from none (the tier price): it must survive the form."""
    from marketplace.catalog.services import offers

    plan = {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 3000}], "prepaid_commitment": 100000,
            "overage_unit_price": 0}  # fmt: skip
    version = offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "price_plan": plan})
    page = owner_client.get(url("offer_edit", licensor, offer_id=version.offer_id))
    form = page.context["form"]
    assert form["overage_price"].value() == "0.00"
    data = {name: form[name].value() for name in form.fields if form[name].value() not in (None, False)}
    assert owner_client.post(url("offer_edit", licensor, offer_id=version.offer_id), data).status_code == 302
    saved = Offer.objects.get(pk=version.offer_id).current_version.price_plan
    assert (saved["overage_unit_price"], saved["prepaid_commitment"]) == (0, 100000)


def test_an_offer_grants_no_territory_beyond_the_corpus_rights(owner_client, licensor):
    from marketplace.catalog.services import corpora, offers

    corpus = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "territory": ["FR", "DE"]})
    editor = owner_client.get(url("offer_create", licensor, corpus_id=corpus.pk)).context["form"]
    assert editor["territory"].value() == "DE FR"
    for territory, shown in ((["WW"], "worldwide (WW)"), (["FR", "US"], "US")):
        with pytest.raises(ValidationError) as caught:
            offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "territory": territory})
        assert caught.value.message_dict["territory"] == [
            f"The corpus' rights cover DE, FR only; an offer cannot grant {shown}."
        ]
    assert not Offer.objects.exists()
    offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "territory": ["FR"]})
    # Narrowing the corpus' rights below a live offer is refused too.
    with pytest.raises(ValidationError) as caught:
        corpora.corpus_update(access=licensor, corpus=corpus, data={**CORPUS_DATA, "territory": ["DE"]})
    assert "Offer “Research licence” (FR) grants more" in caught.value.message_dict["territory"][0]


def test_a_catalogue_card_says_where_the_offers_on_sale_grant_a_licence(licensor):
    from marketplace.catalog.selectors import card_territories
    from marketplace.catalog.services import corpora, offers

    corpus = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "territory": ["FR", "DE", "US"]})
    for territory in (["FR"], ["DE", "FR"]):
        version = offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "territory": territory})
        offers.offer_publish(access=licensor, offer=version.offer)
    offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "territory": ["US"]})  # a draft: not sold
    assert card_territories([corpus]) == {corpus.pk: ["DE", "FR"]}


def test_nothing_the_operator_reviews_changes_while_in_review(owner_client, licensor, listed_corpus):
    from marketplace.catalog.services import corpora, offers

    corpus = corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    assert corpus.status == "in_review"
    page = owner_client.get(url("corpus", licensor, corpus_id=corpus.pk)).content.decode()
    assert "Waiting for the operator's review" in page and "Edit details" not in page and "New offer" not in page
    response = owner_client.post(url("corpus_edit", licensor, corpus_id=corpus.pk), {**CORPUS_DATA, "title": "Changed"})
    assert response.status_code in (200, 302)
    corpus.refresh_from_db()
    assert corpus.title == CORPUS_DATA["title"]
    for attempt in (
        lambda: corpora.corpus_update(access=licensor, corpus=corpus, data={**CORPUS_DATA, "title": "Changed"}),
        lambda: offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "name": "Another"}),
        lambda: offers.offer_save(access=licensor, corpus=corpus, data=OFFER_DATA, offer=corpus.offers.get()),
    ):
        with pytest.raises(ValidationError, match="waiting for the operator's review"):
            attempt()
    assert corpus.offers.get().versions.count() == 1


def test_archiving_an_offer_asks_first(owner_client, licensor, listed_corpus):
    page = owner_client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()
    assert 'data-confirm="Archive “Research licence”? It leaves sale for good' in page


def test_a_refused_corpus_withdrawal_keeps_the_form_open_with_its_error(owner_client, licensor, listed_corpus):
    response = owner_client.post(url("corpus_withdraw", licensor, corpus_id=listed_corpus.pk), {"reason": "   "})
    assert response.status_code == 400
    assert response.context["withdraw_form"].errors["reason"] == [
        "Say why: the reason is recorded and shown to affected licensees."
    ]
    assert '<details class="card" open>' in response.content.decode()
    listed_corpus.refresh_from_db()
    assert listed_corpus.status != "withdrawn"


def test_a_refused_asset_withdrawal_is_shown_on_the_page_it_came_from(owner_client, licensor, corpus):
    import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(3)])
    ids = list(Asset.objects.filter(corpus=corpus).order_by("id").values_list("id", flat=True))
    listing = url("assets", licensor, corpus_id=corpus.pk) + "?q=a"
    response = owner_client.post(
        url("assets_withdraw", licensor, corpus_id=corpus.pk), {"asset": ids[:2], "reason": "  ", "next": listing}
    )
    assert response.status_code == 400
    assert response.context["withdraw_form"].errors["reason"]
    page = response.content.decode()
    assert page.count(" checked>") == 2 and f'value="{listing}"' in page  # the selection and the way back kept
    detail = url("asset", licensor, corpus_id=corpus.pk, asset_id=ids[2])
    response = owner_client.post(
        url("assets_withdraw", licensor, corpus_id=corpus.pk), {"asset": [ids[2]], "reason": " ", "next": detail}
    )
    assert response.status_code == 400 and response.context["asset"].pk == ids[2]
    assert response.context["withdraw_form"].errors["reason"]
    assert not Asset.objects.filter(corpus=corpus, status="withdrawn").exists()


def test_an_offer_cannot_be_archived_in_review_and_approval_needs_something_on_sale(
    owner_client, licensor, operator, listed_corpus
):
    from marketplace.catalog.services import corpora, offers, withdrawals

    corpus = corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    with pytest.raises(ValidationError, match="waiting for the operator's review"):
        offers.offer_archive(access=licensor, offer=corpus.offers.get())
    # Imports and withdrawals still run during review: nothing left on sale cannot be approved.
    every = list(corpus.assets.values_list("pk", flat=True))
    withdrawals.assets_withdraw(access=licensor, corpus=corpus, asset_ids=every, reason="Rights lapsed")
    with pytest.raises(ValidationError, match="no active assets or no offer on sale"):
        corpora.corpus_review(access=operator, corpus_id=corpus.pk, approve=True)
    corpus.refresh_from_db()
    assert corpus.status == "in_review"


def test_the_catalogue_filters_prices_in_every_offer_currency_and_never_above_the_limit(client, licensor, corpus):
    from marketplace.catalog.services import offers

    import_rows(licensor, corpus, [manifest_row("a", duration_seconds="2400")])
    # 0.03 EUR an asset, 1.5 assets an hour: 0.045 an hour, stored rounded up (half-even would say 0.04).
    plan = {"metric": "assets", "tiers": [{"up_to": None, "unit_price": 3}]}
    version = offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "price_plan": plan})
    offers.offer_publish(access=licensor, offer=version.offer)
    corpus.refresh_from_db()
    assert corpus.prices_per_hour == {"EUR": 5}
    page = client.get(reverse("catalog:public_list") + "?currency=JPY").content.decode()
    assert "<option selected>JPY</option>" in page and "<option >AUD</option>" in page


def test_a_price_per_hour_past_64_bits_is_listed_at_the_ceiling_not_a_crash(licensor, corpus):
    from marketplace.catalog.services import offers
    from marketplace.catalog.services.listing import LISTED_PRICE_MAX

    import_rows(licensor, corpus, [manifest_row("blink", duration_seconds="0.001")])
    # 10^13 minor units an asset (the largest price a plan takes), 3.6 million assets an hour: 3.6 * 10^19.
    plan = {"metric": "assets", "tiers": [{"up_to": None, "unit_price": 10**13}]}
    version = offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "price_plan": plan})
    offers.offer_publish(access=licensor, offer=version.offer)
    corpus.refresh_from_db()
    version.offer.refresh_from_db()
    assert corpus.price_per_hour_from == corpus.prices_per_hour["EUR"] == LISTED_PRICE_MAX
    assert version.offer.listed_price_per_hour == LISTED_PRICE_MAX


def test_in_review_the_page_offers_no_archive_or_preview_and_refusals_are_messages(
    owner_client, licensor, listed_corpus
):
    from marketplace.catalog.services import corpora

    corpus = corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    page = owner_client.get(url("corpus", licensor, corpus_id=corpus.pk)).content.decode()
    assert ">Archive</button>" not in page and "Add preview" not in page
    offer = corpus.offers.get()
    response = owner_client.post(url("offer_archive", licensor, offer_id=offer.pk), follow=True)
    assert response.status_code == 200 and "waiting for the operator&#x27;s review" in response.content.decode()
    response = owner_client.post(url("preview_upload", licensor, corpus_id=corpus.pk),
                                 {"file": upload("still.png", PNG)}, follow=True)  # fmt: skip
    assert "waiting for the operator&#x27;s review" in response.content.decode()
    assert not corpus.previews.exists() and offer.status == "published"


def test_a_withdrawal_refused_for_the_assets_state_is_a_message_on_the_page(owner_client, licensor, corpus):
    import_rows(licensor, corpus, [manifest_row("a0")])
    asset = Asset.objects.get(corpus=corpus)
    detail = url("asset", licensor, corpus_id=corpus.pk, asset_id=asset.pk)
    for _ in range(2):  # the second, from a tab opened before the first: the form is gone, the refusal is not
        form = {"asset": [asset.pk], "reason": "Rights lapsed", "next": detail}
        response = owner_client.post(url("assets_withdraw", licensor, corpus_id=corpus.pk), form, follow=True)
    assert response.status_code == 200 and "These assets are already withdrawn." in response.content.decode()


def test_the_asset_list_re_rendered_after_a_refusal_links_to_the_list(owner_client, licensor, corpus):
    import_rows(licensor, corpus, [manifest_row(f"a{i:03d}") for i in range(60)])
    listing = url("assets", licensor, corpus_id=corpus.pk)
    ids = list(Asset.objects.filter(corpus=corpus).values_list("pk", flat=True)[:2])
    response = owner_client.post(url("assets_withdraw", licensor, corpus_id=corpus.pk),
                                 {"asset": ids, "reason": "x", "next": listing + "?page=1"})  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 400
    assert f'action="{listing}"' in page and f'href="{listing}?status=active&amp;q=&amp;page=2"' in page


def test_editing_a_corpus_shows_the_offer_territory_rule_with_the_other_errors(owner_client, licensor):
    from marketplace.catalog.services import corpora, offers

    corpus = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "territory": ["FR", "DE"]})
    offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "territory": ["FR", "DE"]})
    form = {**CORPUS_DATA, "title": "", "languages": "zxx", "territory": "FR"}
    errors = owner_client.post(url("corpus_edit", licensor, corpus_id=corpus.pk), form).context["form"].errors
    assert sorted(errors) == ["territory", "title"]
    assert "(DE, FR) grants more: narrow or archive it" in errors["territory"][0]


def test_corpus_texts_have_limits_that_the_form_names(owner_client, licensor):
    from marketplace.catalog.services import corpora
    from tests.fixtures.market import CORPUS_DATA

    data = {**CORPUS_DATA, "description": "d" * 10_001, "chain_of_title": "c" * 20_001}
    with pytest.raises(ValidationError) as caught:
        corpora.corpus_create(access=licensor, data=data)
    assert caught.value.message_dict == {
        "description": ["Keep the description to 10,000 characters (it has 10,001)."],
        "chain_of_title": [
            "Keep the chain of title to 20,000 characters (it has 20,001); "
            "attach longer agreements to your records and summarise them here."
        ],
    }
    assert not Corpus.objects.exists()
    corpora.corpus_create(access=licensor, data={**data, "description": "d" * 10_000, "chain_of_title": "c" * 20_000})


def test_an_archived_offer_is_shown_read_only(owner_client, licensor, corpus):
    version = offers.offer_save(access=licensor, corpus=corpus, data=OFFER_DATA)
    offers.offer_archive(access=licensor, offer=version.offer)
    page = owner_client.get(url("offer_edit", licensor, offer_id=version.offer.pk)).content.decode()
    assert "This offer is archived" in page and "Save offer" not in page
    assert f"<h1>“{version.offer.name}” (archived)</h1>" in page and page.count("<fieldset disabled>") == 3
    live = offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "name": "Live"})
    page = owner_client.get(url("offer_edit", licensor, offer_id=live.offer.pk)).content.decode()
    assert "This offer is archived" not in page and "Save offer" in page and "disabled>" not in page


def test_the_assets_missing_from_a_reupload_are_listed_before_they_are_withdrawn(owner_client, licensor, corpus):
    import_rows(licensor, corpus, [manifest_row(f"a{i:02d}") for i in range(30)])
    again = import_rows(licensor, corpus, [manifest_row("a00"), manifest_row("a01")])
    assert again.missing == 28
    page = owner_client.get(url("import", licensor, import_id=again.pk)).content.decode()
    assert ">a02</a></td>" in page and ">a21</a></td>" in page and ">a22</a></td>" not in page  # the first 20
    assert "20 of 28 shown." in page and "<td>a00</td>" not in page
    download = owner_client.get(url("import_missing_csv", licensor, import_id=again.pk))
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert rows[0] == ["external_id", "title"] and [r[0] for r in rows[1:]] == [f"a{i:02d}" for i in range(2, 30)]
    owner_client.post(url("import_withdraw_missing", licensor, import_id=again.pk), {"reason": ""})
    page = owner_client.get(url("import", licensor, import_id=again.pk)).content.decode()
    assert "The 28 missing assets were withdrawn" in page and ">a02</a></td>" not in page
    assert owner_client.get(url("import_missing_csv", licensor, import_id=again.pk)).status_code == 404
    # One missing asset is spoken of in the singular.
    last = import_rows(licensor, corpus, [manifest_row("a00")])
    response = owner_client.post(
        url("import_withdraw_missing", licensor, import_id=last.pk), {"reason": ""}, follow=True
    )
    assert "Withdrew the 1 asset missing from this manifest." in response.content.decode()
    page = owner_client.get(url("import", licensor, import_id=last.pk)).content.decode()
    assert "The missing asset was withdrawn" in page


def test_assets_whose_rights_have_expired_are_flagged_found_and_withdrawn_from_the_pages(
    owner_client, licensor, corpus
):
    rows = [manifest_row(f"old{i}", rights_expiry="2020-01-31") for i in range(2)] + [manifest_row("new")]
    mi = import_rows(licensor, corpus, rows)
    page = owner_client.get(url("import", licensor, import_id=mi.pk)).content.decode()
    assert "2 assets in this manifest have their rights expiry before" in page
    assert f"{url('assets', licensor, corpus_id=corpus.pk)}?status=expired" in page
    # The corpus page and the dashboard say so too, with the way to the assets.
    corpus.refresh_from_db()
    assert corpus.first_rights_expiry == dt.date(2020, 1, 31)
    expired_link = f'<a href="{url("assets", licensor, corpus_id=corpus.pk)}?status=expired">'
    page = owner_client.get(url("corpus", licensor, corpus_id=corpus.pk)).content.decode()
    assert "2 active assets have rights that ran out (the first on 31 Jan 2020)" in page and expired_link in page
    dashboard = owner_client.get(reverse("orgs:dashboard", args=[licensor.organisation.slug])).content.decode()
    assert f"{expired_link}{corpus.title}</a>, since 31 Jan 2020" in dashboard
    listing = owner_client.get(url("assets", licensor, corpus_id=corpus.pk), {"status": "expired"})
    assert [a.external_id for a in listing.context["page"]] == ["old0", "old1"]
    assert "2 active assets of this corpus have a rights expiry before today" in listing.content.decode()
    searched = owner_client.get(url("assets", licensor, corpus_id=corpus.pk), {"status": "expired", "q": "old0"})
    assert [a.external_id for a in searched.context["page"]] == ["old0"]
    assert "Withdraw all 2 assets whose rights have expired?" in searched.content.decode()  # all, not the search's
    everything = owner_client.get(url("assets", licensor, corpus_id=corpus.pk)).content.decode()
    assert everything.count(">rights expired 31 Jan 2020</span>") == 2
    old = Asset.objects.get(corpus=corpus, external_id="old0")
    assert f'{old.pk}/?list=status%3Dexpired%26q%3D%26page%3D1"' in listing.content.decode()
    detail = owner_client.get(
        url("asset", licensor, corpus_id=corpus.pk, asset_id=old.pk), {"list": "status=expired&page=1&next=//evil"}
    ).content.decode()
    assert '31 Jan 2020 <span class="status expired">expired</span>' in detail
    assert '<span class="status expired">rights expired</span></h1>' in detail
    back = url("assets", licensor, corpus_id=corpus.pk) + "?status=expired&amp;page=1"
    assert f'<a href="{back}">' in detail and "evil" not in detail  # back to the list as filtered, known keys only
    viewer = add_member(licensor.organisation, "viewer@northlight.example", Role.VIEWER)
    owner_client.force_login(viewer)
    assert (
        "Withdraw all with expired rights"
        not in owner_client.get(url("assets", licensor, corpus_id=corpus.pk), {"status": "expired"}).content.decode()
    )
    # An object's page is a 404 to a member without the role (orgs.access.org_view).
    assert owner_client.post(url("assets_withdraw_expired", licensor, corpus_id=corpus.pk)).status_code == 404
    assert Asset.objects.filter(corpus=corpus, status=AssetStatus.ACTIVE).count() == 3
    owner_client.force_login(licensor.user)
    short = owner_client.post(url("assets_withdraw_expired", licensor, corpus_id=corpus.pk), {"reason": "x"})
    assert short.status_code == 400  # next to the field, with what was typed
    assert '<p class="error" id="expired-reason-error">Say why these assets are withdrawn' in short.content.decode()
    assert 'name="reason" value="x"' in short.content.decode()
    response = owner_client.post(
        url("assets_withdraw_expired", licensor, corpus_id=corpus.pk), {"reason": "Licence from the estate ended"},
        follow=True,
    )  # fmt: skip
    assert "Withdrew the 2 assets whose rights have expired." in response.content.decode()
    page = owner_client.get(url("import", licensor, import_id=mi.pk)).content.decode()
    assert "2 assets in this manifest have their rights expiry before" in page  # what the import found
    assert "None is active with expired rights now" in page  # and what holds now
    assert 'id="expired-rights"' not in owner_client.get(url("corpus", licensor, corpus_id=corpus.pk)).content.decode()
    dashboard = owner_client.get(reverse("orgs:dashboard", args=[licensor.organisation.slug])).content.decode()
    assert 'id="expired-rights"' not in dashboard
    assert response.context["status"] == "expired" and not list(response.context["page"])
    assert Asset.objects.filter(corpus=corpus, status=AssetStatus.ACTIVE).get().external_id == "new"
    again = owner_client.post(url("assets_withdraw_expired", licensor, corpus_id=corpus.pk), follow=True)
    assert "No active asset of this corpus has rights that have expired." in again.content.decode()


def test_a_licensor_takes_a_preview_down_at_once(
    client, licensor, operator, listed_corpus, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from marketplace.catalog.models import PreviewMedia
    from marketplace.catalog.services import corpora

    preview = corpora.preview_add(
        access=licensor, corpus=listed_corpus, upload=SimpleUploadedFile("a.png", PNG), caption="Face, no release"
    )
    stored = preview.file.name
    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=True)
    link = reverse("catalog:preview_file", args=[preview.pk])
    remove = url("preview_remove", licensor, corpus_id=listed_corpus.pk, preview_id=preview.pk)
    viewer = add_member(licensor.organisation, "viewer@northlight.example", Role.VIEWER)
    client.force_login(viewer)
    assert client.post(remove).status_code in (403, 404)
    assert f'action="{remove}"' not in client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()
    client.force_login(licensor.user)
    page = client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()
    assert f'action="{remove}"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(remove)
    assert response.status_code == 302
    assert not PreviewMedia.objects.filter(pk=preview.pk).exists() and not preview.file.storage.exists(stored)
    client.logout()
    assert client.get(link).status_code == 404
    assert link not in client.get(reverse("catalog:public_corpus", args=[listed_corpus.slug])).content.decode()


def test_a_flat_fee_offer_refuses_prices_and_terms_that_only_usage_could_move(owner_client, licensor, corpus):
    form = {
        "name": "Flat", "permitted_uses": ["evaluation"], "term_months": "12", "territory": "WW",
        "commission_percent": "20", "currency": "EUR", "metric": "", "flat_fee": "100.00",
    }  # fmt: skip
    create = url("offer_create", licensor, corpus_id=corpus.pk)
    response = owner_client.post(create, {**form, "tier_1_up_to": "100", "tier_1_price": "5.00", "tier_4_price": "3"})
    assert "Choose what the prices count" in response.context["form"].errors["metric"][0]
    response = owner_client.post(create, {**form, "prepaid_commitment": "10.00", "usage_cap": "50"})
    errors = response.context["form"].errors
    assert "drawn down by usage" in errors["prepaid_commitment"][0] and "limits metered usage" in errors["usage_cap"][0]
    assert not Offer.objects.exists()
    assert owner_client.post(create, form).status_code == 302  # a flat fee alone


def test_pages_of_a_corpus_in_review_say_so_before_anything_is_typed(owner_client, licensor, listed_corpus):
    from marketplace.catalog.services import corpora

    offer = listed_corpus.offers.first()
    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    for name, kwargs in (("corpus_edit", {"corpus_id": listed_corpus.pk}), ("offer_edit", {"offer_id": offer.pk})):
        page = owner_client.get(url(name, licensor, **kwargs)).content.decode()
        assert "waiting for the operator's review" in page, name
        assert 'type="submit">Save' not in page, name


def test_the_price_filter_reads_the_offer_that_grants_the_use_asked_for(client, licensor, operator, listed_corpus):
    from marketplace.catalog.services import corpora

    cheap = {**OFFER_DATA, "name": "Evaluation only", "permitted_uses": ["evaluation"],
             "price_plan": {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 100}]}}  # fmt: skip
    offers.offer_publish(
        access=licensor, offer=offers.offer_save(access=licensor, corpus=listed_corpus, data=cheap).offer
    )
    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=True)
    base, title = reverse("catalog:public_list"), listed_corpus.title
    # Research licence: pre-training and evaluation at 100.00 EUR per hour; the other, evaluation at 1.00.
    assert title not in client.get(base + "?use=pre_training&max_price=10&currency=EUR").content.decode()
    assert title in client.get(base + "?use=pre_training&max_price=100&currency=EUR").content.decode()
    assert title in client.get(base + "?use=evaluation&max_price=1&currency=EUR").content.decode()
    assert title in client.get(base + "?max_price=1&currency=EUR").content.decode()
    assert title not in client.get(base + "?max_price=0.99&currency=EUR").content.decode()
    # The card's price is that of the offers granting what was asked for.
    assert "from 100.00 EUR per hour" in client.get(base + "?use=pre_training&currency=EUR").content.decode()
    assert "from 1.00 EUR per hour" in client.get(base + "?currency=EUR").content.decode()


def test_the_asset_pages_are_numbered_from_the_stored_total_without_counting(owner_client, licensor, corpus):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import_rows(licensor, corpus, [manifest_row(f"a{i:03d}") for i in range(120)])
    with CaptureQueriesContext(connection) as queries:
        page = owner_client.get(url("assets", licensor, corpus_id=corpus.pk) + "?page=3").content.decode()
    assert "a100" in page and "Page 3 of 3" in page
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "catalog_asset" in q["sql"]]
    searched = owner_client.get(url("assets", licensor, corpus_id=corpus.pk) + "?q=a11").content.decode()
    assert "a110" in searched and "a100" not in searched  # a search still counts its own matches


def test_an_older_import_says_a_newer_one_holds_the_listing_and_every_role_sees_the_missing(client, licensor, corpus):
    older = import_rows(licensor, corpus, [manifest_row("a"), manifest_row("b")])
    older = import_rows(licensor, corpus, [manifest_row("a")])
    viewer = add_member(licensor.organisation, "viewer@northlight.example", Role.VIEWER)
    client.force_login(viewer)
    page = client.get(url("import", licensor, import_id=older.pk)).content.decode()
    assert ">b</a></td>" in page and "Withdraw the missing assets" not in page  # seen, not withdrawable by a viewer
    import_rows(licensor, corpus, [manifest_row("a"), manifest_row("b"), manifest_row("c")])
    client.force_login(licensor.user)
    page = client.get(url("import", licensor, import_id=older.pk)).content.decode()
    assert "A newer manifest has been imported into this corpus since" in page
    assert "Withdraw the missing assets" not in page and ">b</a></td>" not in page


def test_submitting_and_deciding_a_listing_is_mailed_to_who_acts_next(
    licensor, operator, listed_corpus, django_capture_on_commit_callbacks
):
    from django.core import mail

    from marketplace.catalog.services import corpora

    add_member(operator.organisation, "books@market.example", Role.FINANCE)  # reviews nothing: not told
    add_member(licensor.organisation, "books@northlight.example", Role.FINANCE)
    with django_capture_on_commit_callbacks(execute=True):
        corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    assert [(m.subject, m.to) for m in mail.outbox] == [
        (f"Listing to review: {listed_corpus.title}", [operator.user.email])
    ]
    with django_capture_on_commit_callbacks(execute=True):
        corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=False, note="Add model releases")
    sent_back = mail.outbox[-1]
    assert sent_back.subject == f"“{listed_corpus.title}” was sent back by the operator"
    assert sent_back.to == [licensor.user.email] and "Add model releases" in sent_back.body


def test_withdrawing_nothing_selected_says_so_above_the_form_not_beside_the_reason(owner_client, licensor, corpus):
    import_rows(licensor, corpus, [manifest_row("a0"), manifest_row("a1")])
    listing = url("assets", licensor, corpus_id=corpus.pk)
    response = owner_client.post(
        url("assets_withdraw", licensor, corpus_id=corpus.pk), {"reason": "Brand complaint", "next": listing}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "<li>Select at least one asset to withdraw: tick the box beside each one.</li>" in page
    assert 'aria-invalid="true"' not in page  # the reason was fine, and stays filled in
    assert "Brand complaint" in page
    assert not Asset.objects.filter(status=AssetStatus.WITHDRAWN).exists()
    done = owner_client.post(
        url("assets_withdraw", licensor, corpus_id=corpus.pk),
        {"asset": [Asset.objects.get(external_id="a0").pk], "reason": "Brand complaint", "next": listing},
        follow=True,
    )
    assert "Withdrew 1 asset. Affected licensees will be notified." in done.content.decode()


def test_the_offer_form_names_every_problem_in_one_round(owner_client, licensor, corpus):
    response = owner_client.post(
        url("offer_create", licensor, corpus_id=corpus.pk),
        {"name": "", "permitted_uses": ["evaluation"], "term_months": "12", "territory": "XX",
         "commission_percent": "3", "currency": "EUR", "metric": "hours", "flat_fee": "abc",
         "tier_4_price": "10.00", "usage_cap": "-5", "minimum_guarantee": "-100"},
    )  # fmt: skip
    errors = response.context["form"].errors
    # The form's own check (the flat fee) and the service's rules for everything else, together.
    assert set(errors) >= {"name", "flat_fee", "territory", "commission_percent", "usage_cap", "minimum_guarantee"}
    assert "Cannot be negative." in errors["minimum_guarantee"]
    # One message a field: a fee that did not read is not also a missing fee.
    assert errors["flat_fee"] == ["'abc' is not an amount."]
    response = owner_client.post(
        url("offer_create", licensor, corpus_id=corpus.pk),
        {"name": "X", "permitted_uses": ["evaluation"], "term_months": "12", "territory": "WW",
         "commission_percent": "20", "currency": "EUR", "metric": "", "flat_fee": "abc"},
    )  # fmt: skip
    assert response.context["form"].errors["flat_fee"] == ["'abc' is not an amount."]
    assert not Offer.objects.exists()


@pytest.mark.parametrize("page", ["offer_create", "corpus_create", "corpus_edit"])
def test_an_empty_post_is_answered_with_the_form_s_errors(owner_client, licensor, corpus, page):
    """An empty body left the form unbound, and the service's checks then read data it did not have (a 500)."""
    target = url(page, licensor) if page == "corpus_create" else url(page, licensor, corpus_id=corpus.pk)
    response = owner_client.post(target, {})
    assert response.status_code == 200
    assert response.context["form"].is_bound and "This field is required." in str(response.context["form"].errors)


def test_the_import_history_says_why_a_file_was_refused(owner_client, licensor, corpus):
    content = manifest_csv([manifest_row("a")]).replace(b"sha256", b"checksum", 1)
    mi = imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.csv", content))
    imports.manifest_import_run(mi.pk)
    bad_rows = import_rows(licensor, corpus, [manifest_row("b", duration_seconds="-1")], name="rows.csv")
    assert bad_rows.error_count == 1
    page = owner_client.get(url("corpus", licensor, corpus_id=corpus.pk)).content.decode()
    from django.utils.html import escape

    reason = ManifestImport.objects.get(pk=mi.pk).file_error
    assert f'<span title="{escape(reason)}">{escape(reason[:79])}…</span>' in page  # the reason, not an empty cell
    assert ">1 error<" in page


def test_every_import_of_a_corpus_is_listed_past_the_latest_ten(owner_client, licensor, corpus):
    for n in range(12):
        import_rows(licensor, corpus, [manifest_row(f"a{n}")], name=f"batch-{n:02d}.csv")
    page = owner_client.get(url("corpus", licensor, corpus_id=corpus.pk)).content.decode()
    assert "batch-11.csv" in page and "batch-01.csv" not in page
    all_imports = url("imports", licensor, corpus_id=corpus.pk)
    assert f'href="{all_imports}">All 12 imports' in page
    listing = owner_client.get(all_imports).content.decode()
    assert all(f"batch-{n:02d}.csv" in listing for n in range(12))


def test_the_corpus_page_states_each_offer_s_term_territory_and_price(owner_client, licensor, listed_corpus):
    page = owner_client.get(url("corpus", licensor, corpus_id=listed_corpus.pk)).content.decode()
    assert "<td>12 months, WW</td>" in page
    assert "<li>100.00 EUR per hour of video</li>" in page


def test_an_offer_past_the_corpus_rights_is_told_so_beside_its_other_problems(owner_client, licensor):
    corpus = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "territory": ["DE"]})
    form = {
        "name": "Research", "permitted_uses": ["pre_training"], "term_months": "12", "territory": "WW",
        "commission_percent": "5", "currency": "EUR", "metric": "hours", "tier_1_up_to": "1000",
        "tier_1_price": "abc", "tier_4_price": "90.00",
    }  # fmt: skip
    response = owner_client.post(url("offer_create", licensor, corpus_id=corpus.pk), form)
    assert dict(response.context["form"].errors) == {
        "tier_1_price": ["'abc' is not an amount."],
        "commission_percent": ["The commission must be between 15% and 50%."],
        "territory": ["The corpus' rights cover DE only; an offer cannot grant worldwide (WW)."],
    }
    assert not Offer.objects.filter(corpus=corpus).exists()


def test_the_import_page_says_what_a_column_left_out_means_for_new_and_existing_assets(owner_client, licensor, corpus):
    from marketplace.catalog.manifest import REQUIRED

    def page_of(rows):
        mi = imports.manifest_upload(
            access=licensor, corpus=corpus, upload=upload("m.csv", manifest_csv(rows, columns=REQUIRED))
        )
        mi = imports.manifest_import_run(mi.pk)
        return owner_client.get(url("import", licensor, import_id=mi.pk)).content.decode()

    first = page_of([manifest_row("a")])
    assert "co_owners columns: the new assets start with them empty." in first
    again = page_of([manifest_row("a", title="Retitled"), manifest_row("b")])
    assert "assets already in the corpus keep what they had there, and new ones start empty." in again
    asset = Asset.objects.get(corpus=corpus, external_id="a")
    detail = owner_client.get(url("asset", licensor, corpus_id=corpus.pk, asset_id=asset.pk)).content.decode()
    assert f"({asset.size_bytes:,} bytes)" in detail


def test_the_menu_marks_the_section_every_page_belongs_to(owner_client, licensor, corpus):
    import re

    mi = import_rows(licensor, corpus, [manifest_row("a")])
    pages = {
        reverse("orgs:dashboard", args=[licensor.organisation.slug]): "Dashboard",
        url("corpus_list", licensor): "Corpora",
        url("corpus", licensor, corpus_id=corpus.pk): "Corpora",
        url("import", licensor, import_id=mi.pk): "Corpora",
        url("offer_create", licensor, corpus_id=corpus.pk): "Corpora",
        url("withdrawals", licensor): "Withdrawals",
        reverse("orgs:members", args=[licensor.organisation.slug]): "Members",
        reverse("catalog:public_list"): "Catalogue",
    }
    for page, section in pages.items():
        html = owner_client.get(page).content.decode()
        nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
        assert re.findall(r'aria-current="page">([^<]+)</a>', nav) == [section], page


def test_a_filter_that_cannot_be_read_is_marked_and_the_list_says_it_is_not_narrowed(client, licensor, corpus):
    page = client.get(reverse("catalog:public_list"), {"territory": "ZZ", "min_hours": "-5"}).content.decode()
    assert 'id="territory_error"' in page and 'id="min_hours_error"' in page
    assert "not narrowed by the filters marked above: fix them to apply them" in page


def test_a_number_too_long_to_read_is_refused_on_its_field_not_cut_short(client, licensor, corpus):
    from decimal import Decimal

    from marketplace.catalog.selectors import MAX_FILTER_HOURS, filter_number

    # Cut to its first 40 characters, 000…0005000 read as 0 hours and 0.000…0001 as a price of 0.
    assert filter_number("0" * 40 + "5000", MAX_FILTER_HOURS) is None
    assert filter_number("0." + "0" * 38 + "1", MAX_FILTER_HOURS) is None
    assert filter_number("0" * 36 + "5000", MAX_FILTER_HOURS) == Decimal(5000)
    page = client.get(reverse("catalog:public_list"), {"min_hours": "0" * 40 + "5000"}).content.decode()
    assert 'id="min_hours_error"' in page and "Enter a number of hours." in page
    page = client.get(reverse("catalog:public_list"), {"max_price": "0" * 40 + "5"}).content.decode()
    assert 'id="max_price_error"' in page


def test_an_error_summary_lists_the_fields_in_the_order_the_page_shows_them(owner_client, licensor):
    import re

    page = owner_client.post(url("corpus_create", licensor), {}).content.decode()
    summary = page[page.index("data-error-summary") : page.index("</ul>", page.index("data-error-summary"))]
    named = re.findall(r'<a href="#[^"]+">([^<]+)</a>', summary)
    assert named[:6] == ["Title", "Description", "Languages", "Territory", "Content rating", "Genres"], named
