"""Changes to a published listing wait for the operator's review where the market reviews listings."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.http import Http404
from django.test import override_settings
from django.urls import reverse

from marketplace.catalog.models import Corpus, CorpusRevision, PreviewMedia, RevisionStatus
from marketplace.catalog.services import corpora, offers, withdrawals
from marketplace.events.models import DomainEvent
from tests.fixtures.market import CORPUS_DATA, OFFER_DATA, make_org
from tests.fixtures.market import access_for as _access_for


@pytest.fixture
def published(licensor, operator, listed_corpus):
    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    return corpora.corpus_review(access=operator, corpus_id=listed_corpus.pk, approve=True)


def edit(access, corpus, waiting=corpora.ANY_REVISION, **changes):
    return corpora.corpus_update(access=access, corpus=corpus, data={**CORPUS_DATA, **changes}, waiting=waiting)


@override_settings(PUBLIC_BASE_URL="http://testserver.example")
def test_a_published_listing_keeps_what_was_approved_until_the_change_is(
    licensor, operator, published, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        edit(
            licensor,
            published,
            title="Harbour footage, 2026 edition",
            chain_of_title="Licensed from the port authority.",
        )
    published.refresh_from_db()
    assert (published.title, published.chain_of_title) == (CORPUS_DATA["title"], CORPUS_DATA["chain_of_title"])
    revision = corpora.pending_revision(published)
    assert revision.changes == {
        "title": "Harbour footage, 2026 edition", "chain_of_title": "Licensed from the port authority.",
    }  # fmt: skip
    assert revision.previous == {"title": CORPUS_DATA["title"], "chain_of_title": CORPUS_DATA["chain_of_title"]}
    assert [m.subject for m in mail.outbox] == ["Changes to review: Harbour footage"]
    # Saving the same proposal again keeps it (and its place in the queue); a different one replaces it.
    edit(licensor, published, title="Harbour footage, 2026 edition", chain_of_title="Licensed from the port authority.")
    assert corpora.pending_revision(published).pk == revision.pk
    with django_capture_on_commit_callbacks(execute=True):
        edit(licensor, published, title="Harbour footage, 2026 edition")
    newer = corpora.pending_revision(published)
    assert newer.changes == {"title": "Harbour footage, 2026 edition"}
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.SUPERSEDED
    assert len(mail.outbox) == 1  # one mail per listing in the queue
    with pytest.raises(ValidationError, match="changed or withdrew these changes since this page was loaded"):
        corpora.corpus_revision_review(access=operator, corpus_id=published.pk, revision_id=revision.pk, approve=True)
    with pytest.raises(ValidationError) as refused:
        corpora.corpus_revision_review(access=operator, corpus_id=published.pk, revision_id=newer.pk, approve=False)
    assert refused.value.message_dict == {"note": ["Say why the changes are sent back; the licensor will see it."]}
    with django_capture_on_commit_callbacks(execute=True):
        corpora.corpus_revision_review(access=operator, corpus_id=published.pk, revision_id=newer.pk, approve=True)
    published.refresh_from_db()
    assert published.title == "Harbour footage, 2026 edition"
    assert published.chain_of_title == CORPUS_DATA["chain_of_title"]  # withdrawn by the second proposal
    newer.refresh_from_db()
    assert (newer.status, newer.reviewed_by_id) == (RevisionStatus.APPROVED, operator.user.pk)
    assert mail.outbox[-1].subject == "Your changes to “Harbour footage, 2026 edition” are live in the catalogue"
    page = reverse("catalog:corpus", args=[licensor.organisation.slug, published.pk])
    assert mail.outbox[-1].body.endswith(f"The corpus page: http://testserver.example{page}")
    assert DomainEvent.objects.filter(type="corpus.revision_approved", payload__revision=newer.pk).exists()
    with pytest.raises(ValidationError, match="already decided"):
        corpora.corpus_revision_review(access=operator, corpus_id=published.pk, revision_id=newer.pk, approve=True)


def test_sent_back_changes_leave_the_listing_and_shares_apply_at_once(licensor, operator, published):
    edit(licensor, published, description="Ports and ships at dawn and dusk, filmed in 4K.", co_owners="northlight:100")
    published.refresh_from_db()
    assert published.co_owners == [{"org": "northlight", "bp": 10000}]  # royalty shares are not the operator's
    assert published.description == CORPUS_DATA["description"]
    revision = corpora.pending_revision(published)
    assert list(revision.changes) == ["description"]
    corpora.corpus_revision_review(
        access=operator, corpus_id=published.pk, revision_id=revision.pk, approve=False, note="Dusk is not in it"
    )
    published.refresh_from_db()
    assert published.description == CORPUS_DATA["description"]
    revision.refresh_from_db()
    assert (revision.status, revision.note) == (RevisionStatus.REJECTED, "Dusk is not in it")
    assert corpora.pending_revision(published) is None


def test_the_territory_is_checked_against_offers_when_proposed_and_again_when_approved(licensor, operator, published):
    with pytest.raises(ValidationError) as refused:  # the listed corpus' offer grants WW
        edit(licensor, published, territory=["FR", "DE"])
    assert "Offer “Research licence” (WW) grants more" in refused.value.message_dict["territory"][0]
    assert corpora.pending_revision(published) is None
    france = offers.offer_save(
        access=licensor, corpus=published, data={**OFFER_DATA, "name": "FR", "territory": ["FR"]}
    )
    offers.offer_publish(access=licensor, offer=france.offer)
    offers.offer_archive(access=licensor, offer=published.offers.get(name=OFFER_DATA["name"]))
    edit(licensor, published, territory=["FR", "DE"])
    revision = corpora.pending_revision(published)
    assert revision.changes == {"territory": ["DE", "FR"]}
    # Meanwhile an offer within the live territory (WW), but past the proposed one, goes on sale.
    world = offers.offer_save(access=licensor, corpus=published, data={**OFFER_DATA, "name": "World"})
    offers.offer_publish(access=licensor, offer=world.offer)
    with pytest.raises(ValidationError, match=r"Offer “World” \(WW\) grants more.*Send the changes back"):
        corpora.corpus_revision_review(access=operator, corpus_id=published.pk, revision_id=revision.pk, approve=True)
    published.refresh_from_db()
    assert published.territory == ["WW"]


def test_withdrawing_changes_or_the_corpus_clears_what_waits(licensor, operator, published):
    edit(licensor, published, title="Renamed")
    corpora.corpus_revision_withdraw(access=licensor, corpus=published)
    assert corpora.pending_revision(published) is None
    with pytest.raises(ValidationError, match="No changes to this corpus are waiting for review"):
        corpora.corpus_revision_withdraw(access=licensor, corpus=published)
    edit(licensor, published, title="Renamed again")
    revision = corpora.pending_revision(published)
    withdrawals.corpus_withdraw(access=licensor, corpus=published, reason="Rights returned to the crews")
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.SUPERSEDED
    with pytest.raises(ValidationError):
        corpora.corpus_revision_review(access=operator, corpus_id=published.pk, revision_id=revision.pk, approve=True)


@override_settings(MARKET_REVIEW_REQUIRED=False)
def test_without_review_in_the_market_changes_apply_at_once(licensor, listed_corpus):
    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    edit(licensor, listed_corpus, title="Straight to the catalogue")
    listed_corpus.refresh_from_db()
    assert listed_corpus.title == "Straight to the catalogue"
    assert not CorpusRevision.objects.exists()


def test_the_operator_reviews_changes_from_the_queue_and_the_licensor_sees_the_outcome(
    client, licensor, operator, published
):
    client.force_login(licensor.user)
    edit_url = reverse("catalog:corpus_edit", args=[licensor.organisation.slug, published.pk])
    form = client.get(edit_url).content.decode()
    assert "changes to its public details go to the operator for review" in form
    data = {**CORPUS_DATA, "languages": "zxx", "territory": "WW", "chain_of_title": "Bought from Ports Ltd in 2024."}
    response = client.post(edit_url, data, follow=True)
    page = response.content.decode()
    assert "The changes to the listing wait for the operator&#x27;s review" in page
    assert "Changes waiting for the operator's review" in page and "Bought from Ports Ltd in 2024." in page
    waiting = CorpusRevision.objects.get(status=RevisionStatus.PENDING)
    form = client.get(edit_url).content.decode()
    assert "Bought from Ports Ltd" in form  # the form starts from the proposal, and says which it started from
    assert f'<input type="hidden" name="waiting_revision" value="{waiting.pk}">' in form
    stale = client.post(edit_url, {**data, "title": "Stale", "waiting_revision": ""})
    assert "changed since this form was loaded" in stale.content.decode()
    assert 'name="waiting_revision" value=""' in stale.content.decode()  # kept as it was loaded
    assert corpora.pending_revision(published).pk == waiting.pk
    public = client.get(reverse("catalog:public_corpus", args=[published.slug])).content.decode()
    assert "Bought from Ports Ltd" not in public and "Shot by staff crews" in public

    client.force_login(operator.user)
    queue = client.get(reverse("catalog:review_queue", args=[operator.organisation.slug])).content.decode()
    assert "Changes to published listings" in queue and "Chain of title" in queue
    review_url = reverse("catalog:review", args=[operator.organisation.slug, published.pk])
    review = client.get(review_url)
    assert review.context["revision"].changes == {"chain_of_title": "Bought from Ports Ltd in 2024."}
    body = review.content.decode()
    assert "Shot by staff crews; we own the copyright." in body and "Bought from Ports Ltd in 2024." in body
    revision = review.context["revision"]
    response = client.post(review_url, {"revision": revision.pk, "decision": "reject", "note": "Attach the deed"})
    assert response.status_code == 302
    assert client.get(review_url).status_code == 404  # nothing waits any more

    client.force_login(licensor.user)
    page = client.get(reverse("catalog:corpus", args=[licensor.organisation.slug, published.pk])).content.decode()
    assert "The operator sent back your changes to this listing" in page and "Attach the deed" in page
    client.post(edit_url, {**data, "chain_of_title": "Bought from Ports Ltd in 2024 (deed no. 88)."})
    client.force_login(operator.user)
    revision = CorpusRevision.objects.get(status=RevisionStatus.PENDING)
    client.post(review_url, {"revision": revision.pk, "decision": "approve", "note": ""})
    published.refresh_from_db()
    assert published.chain_of_title == "Bought from Ports Ltd in 2024 (deed no. 88)."
    assert "deed no. 88" in client.get(reverse("catalog:public_corpus", args=[published.slug])).content.decode()


def test_shares_saved_beside_waiting_changes_apply_at_once_and_the_message_says_so(
    client, licensor, other_licensor, published
):
    client.force_login(licensor.user)
    edit_url = reverse("catalog:corpus_edit", args=[licensor.organisation.slug, published.pk])
    data = {**CORPUS_DATA, "languages": "zxx", "territory": "WW", "chain_of_title": "Bought from Ports Ltd in 2024."}
    client.post(edit_url, data)
    waiting = corpora.pending_revision(published)
    page = client.post(
        edit_url, {**data, "co_owners": "harbour:30;northlight:70", "waiting_revision": waiting.pk}, follow=True
    ).content.decode()
    assert (
        "Saved. The royalty shares apply now. The changes saved earlier still wait for the operator&#x27;s review."
        in page
    )
    assert corpora.pending_revision(published).pk == waiting.pk
    published.refresh_from_db()
    assert published.co_owners == [{"org": "harbour", "bp": 3000}, {"org": "northlight", "bp": 7000}]
    assert 'Harbour <span class="muted">(harbour)</span>' in page  # shares by name, the slug beside it


def test_another_organisation_cannot_withdraw_or_review_changes(client, licensor, published):
    edit(licensor, published, title="Renamed")
    stranger_org, stranger = make_org("stranger-studio", "licensor")
    client.force_login(stranger)
    url = reverse("catalog:corpus_changes_withdraw", args=[licensor.organisation.slug, published.pk])
    assert client.post(url).status_code == 404
    with pytest.raises(Corpus.DoesNotExist):
        corpora.corpus_revision_withdraw(access=_access_for(stranger_org, stranger), corpus=published)
    assert corpora.pending_revision(published) is not None


def test_a_save_from_a_form_loaded_before_the_waiting_changes_moved_is_refused(licensor, operator, published):
    edit(licensor, published, title="Proposed by one member")
    revision = corpora.pending_revision(published)
    # A form loaded before that proposal (nothing was waiting) would replace it unseen.
    with pytest.raises(ValidationError, match="changed since this form was loaded"):
        edit(licensor, published, title="Another member's title", waiting=None)
    assert corpora.pending_revision(published).pk == revision.pk
    edit(licensor, published, title="Proposed by one member", co_owners="northlight:100", waiting=revision.pk)
    assert corpora.pending_revision(published).pk == revision.pk  # shares applied, the proposal kept
    corpora.corpus_revision_review(
        access=operator, corpus_id=published.pk, revision_id=revision.pk, approve=False, note="No"
    )
    with pytest.raises(ValidationError, match="changed since this form was loaded"):  # decided meanwhile
        edit(licensor, published, title="Proposed by one member", waiting=revision.pk)
    assert corpora.pending_revision(published) is None


def test_genres_are_a_set_and_an_unchanged_save_proposes_nothing(licensor, published):
    from marketplace.catalog.vocab import GENRES

    Corpus.objects.filter(pk=published.pk).update(genres=["urban", "nature"])  # stored in the order once given
    published.refresh_from_db()
    edit(licensor, published, genres=["nature", "urban"])
    assert corpora.pending_revision(published) is None
    edit(licensor, published, genres=["urban", "nature", "aerial"])
    assert corpora.pending_revision(published).changes == {
        "genres": [code for code in GENRES if code in {"urban", "nature", "aerial"}]  # the list's order
    }


def test_the_corpus_page_shows_only_what_waits_or_was_last_sent_back(client, licensor, operator, published):
    client.force_login(licensor.user)
    page_url = reverse("catalog:corpus", args=[licensor.organisation.slug, published.pk])
    edit(licensor, published, title="First try")
    corpora.corpus_revision_review(
        access=operator, corpus_id=published.pk, revision_id=corpora.pending_revision(published).pk, approve=False,
        note="Keep the old title",
    )  # fmt: skip
    assert "Keep the old title" in client.get(page_url).content.decode()
    edit(licensor, published, title="Second try")
    corpora.corpus_revision_withdraw(access=licensor, corpus=published)
    page = client.get(page_url).content.decode()
    assert "Keep the old title" not in page and "Changes waiting" not in page
    edit(licensor, published, title="Third try")
    withdrawals.corpus_withdraw(access=licensor, corpus=published, reason="Rights returned to the crews")
    page = client.get(page_url).content.decode()
    assert "Third try" not in page and "Changes waiting" not in page


def test_the_operator_dashboard_counts_changes_and_a_decision_on_withdrawn_changes_is_a_message(
    client, licensor, operator, published
):
    edit(licensor, published, title="Renamed")
    client.force_login(operator.user)
    dashboard = client.get(reverse("orgs:dashboard", args=[operator.organisation.slug]))
    assert dashboard.context["waiting_count"] == 1
    assert "Changes to <a" in dashboard.content.decode() and "Nothing to review." not in dashboard.content.decode()
    review_url = reverse("catalog:review", args=[operator.organisation.slug, published.pk])
    revision = client.get(review_url).context["revision"]
    corpora.corpus_revision_withdraw(access=licensor, corpus=published)
    response = client.post(review_url, {"revision": revision.pk, "decision": "approve"}, follow=True)
    assert "The licensor withdrew the changes to “Harbour footage”" in response.content.decode()
    published.refresh_from_db()
    assert published.title == CORPUS_DATA["title"]
    with pytest.raises(Http404):  # reviewing is the operator's; to a licensor it does not exist
        corpora.corpus_revision_review(access=licensor, corpus_id=published.pk, revision_id=revision.pk, approve=True)


def png_upload(name="still.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png")


def test_a_preview_added_to_a_published_listing_is_public_once_approved(client, licensor, operator, published):
    preview = corpora.preview_add(access=licensor, corpus=published, upload=png_upload(), caption="New still")
    revision = corpora.pending_revision(published)
    assert (preview.live, preview.revision_id, revision.changes, revision.summary) == (
        False, revision.pk, {}, "1 new preview",
    )  # fmt: skip
    link = reverse("catalog:preview_file", args=[preview.pk])
    public_page = reverse("catalog:public_corpus", args=[published.slug])
    assert client.get(link).status_code == 404 and link not in client.get(public_page).content.decode()
    client.force_login(operator.user)
    assert client.get(link).status_code == 200  # the reviewer sees what they approve
    review = client.get(reverse("catalog:review", args=[operator.organisation.slug, published.pk])).content.decode()
    assert "1 new preview, shown to buyers once approved" in review and link in review
    assert "<figcaption>New still</figcaption>" in review
    client.force_login(licensor.user)
    page = client.get(reverse("catalog:corpus", args=[licensor.organisation.slug, published.pk])).content.decode()
    assert "Waiting for review</span> New still" in page
    corpora.corpus_revision_review(access=operator, corpus_id=published.pk, revision_id=revision.pk, approve=True)
    client.logout()
    public = client.get(public_page).content.decode()
    assert client.get(link).status_code == 200 and link in public and "<figcaption>New still</figcaption>" in public


def test_new_previews_follow_the_waiting_changes_until_decided_or_withdrawn(
    licensor, operator, published, django_capture_on_commit_callbacks
):
    edit(licensor, published, title="Renamed")
    first = corpora.pending_revision(published)
    preview = corpora.preview_add(access=licensor, corpus=published, upload=png_upload())
    # A new revision with the same changes: a reviewer who read the first must not approve the preview unseen.
    with_preview = corpora.pending_revision(published)
    assert with_preview.pk != first.pk and preview.revision_id == with_preview.pk
    assert (with_preview.changes, with_preview.summary) == ({"title": "Renamed"}, "title, 1 new preview")
    with pytest.raises(ValidationError, match="changed or withdrew these changes"):
        corpora.corpus_revision_review(access=operator, corpus_id=published.pk, revision_id=first.pk, approve=True)
    edit(licensor, published, title="Renamed again")  # the preview moves to the proposal that replaces it
    second = corpora.pending_revision(published)
    preview.refresh_from_db()
    assert second.pk != with_preview.pk and preview.revision_id == second.pk
    edit(licensor, published)  # the title back as it is: the preview still waits, on its own
    third = corpora.pending_revision(published)
    preview.refresh_from_db()
    assert (third.changes, preview.revision_id) == ({}, third.pk)
    corpora.corpus_revision_review(
        access=operator, corpus_id=published.pk, revision_id=third.pk, approve=False, note="Blurry"
    )
    preview.refresh_from_db()
    assert not preview.live and PreviewMedia.objects.filter(pk=preview.pk).exists()  # sent back, not public
    other = corpora.preview_add(access=licensor, corpus=published, upload=png_upload())
    # A new proposal answers the operator: the preview sent back goes with it, unless the licensor removed it.
    assert set(corpora.pending_revision(published).previews.all()) == {preview, other}
    name, storage = other.file.name, other.file.storage
    with django_capture_on_commit_callbacks(execute=True):
        corpora.corpus_revision_withdraw(access=licensor, corpus=published)
    assert not PreviewMedia.objects.filter(pk__in=[preview.pk, other.pk]).exists()  # withdrawn with the changes
    assert not storage.exists(name)  # the files too, once the withdrawal committed


@override_settings(MARKET_REVIEW_REQUIRED=False)
def test_without_review_a_new_preview_is_public_at_once(licensor, listed_corpus):
    corpora.corpus_submit(access=licensor, corpus=listed_corpus)
    preview = corpora.preview_add(access=licensor, corpus=listed_corpus, upload=png_upload())
    assert preview.live and preview.revision_id is None


def test_removing_the_only_thing_waiting_leaves_nothing_to_review(client, licensor, operator, published):
    preview = corpora.preview_add(access=licensor, corpus=published, upload=png_upload())
    revision = corpora.pending_revision(published)
    link = reverse("catalog:preview_file", args=[preview.pk])
    client.force_login(make_org("stranger-studio", "licensor")[1])
    assert client.get(link).status_code == 404
    client.logout()
    assert client.get(link).status_code == 404
    from marketplace.orgs.services import membership_set
    from tests.fixtures.market import make_user

    reader = make_user("reader@market-ops.example")  # an operator's member without the review role
    membership_set(organisation=operator.organisation, user=reader, role="finance")
    client.force_login(reader)
    assert client.get(link).status_code == 404
    client.force_login(licensor.user)
    served = client.get(link)
    assert served.status_code == 200 and "private" in served["Cache-Control"] and "ETag" not in served
    corpora.preview_remove(access=licensor, preview=preview)
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.SUPERSEDED and corpora.pending_revision(published) is None


def test_removing_a_preview_read_before_another_was_added_leaves_nothing_to_review(licensor, published):
    first = corpora.preview_add(access=licensor, corpus=published, upload=png_upload())
    read_earlier = PreviewMedia.objects.select_related("corpus").get(pk=first.pk)  # as the remove button's post
    second = corpora.preview_add(access=licensor, corpus=published, upload=png_upload())  # both in a new revision
    corpora.preview_remove(access=licensor, preview=second)
    corpora.preview_remove(access=licensor, preview=read_earlier)
    assert corpora.pending_revision(published) is None  # not an empty revision in the operator's queue
    assert not PreviewMedia.objects.exists()
    corpora.preview_remove(access=licensor, preview=read_earlier)  # removed already: nothing to do


def test_switching_review_off_makes_waiting_previews_public_rather_than_losing_them(licensor, published):
    preview = corpora.preview_add(access=licensor, corpus=published, upload=png_upload())
    with override_settings(MARKET_REVIEW_REQUIRED=False):
        edit(licensor, published)
    preview.refresh_from_db()
    assert preview.live and preview.revision_id is None
    assert corpora.pending_revision(published) is None


def test_the_queue_counts_previews_without_a_query_per_row(licensor, published, django_assert_num_queries):
    from marketplace.catalog.selectors import revisions_waiting

    corpora.preview_add(access=licensor, corpus=published, upload=png_upload())
    waiting = list(revisions_waiting())
    with django_assert_num_queries(0):
        assert [revision.summary for revision in waiting] == ["1 new preview"]


def test_a_send_back_is_answered_from_the_form_it_left(client, licensor, operator, published):
    edit(licensor, published, chain_of_title="Bought from Ports Ltd.")
    corpora.corpus_revision_review(
        access=operator, corpus_id=published.pk, revision_id=corpora.pending_revision(published).pk, approve=False,
        note="Name the deed",
    )  # fmt: skip
    client.force_login(licensor.user)
    form = client.get(reverse("catalog:corpus_edit", args=[licensor.organisation.slug, published.pk]))
    assert form.context["form"].initial["chain_of_title"] == "Bought from Ports Ltd."
    assert "The operator sent back your last changes: “Name the deed”" in form.content.decode()
    assert 'name="waiting_revision" value=""' in form.content.decode()  # nothing waits: a save proposes anew


def test_every_offer_in_the_way_of_narrowing_is_named(licensor, published):
    world = offers.offer_save(access=licensor, corpus=published, data={**OFFER_DATA, "name": "World"})
    offers.offer_publish(access=licensor, offer=world.offer)
    with pytest.raises(ValidationError) as refused:
        edit(licensor, published, territory=["FR"])
    assert refused.value.message_dict["territory"] == [
        "Offers “Research licence” (WW), “World” (WW) grant more: narrow or archive them before narrowing the "
        "corpus' rights."
    ]
