"""Every catalogue service refuses another organisation's corpora, offers and imports, and leaves them untouched.

The views turn these refusals into 404s (test_isolation.py walks every route); this proves that the services hold
the line by themselves, for the callers that are not views. The attacker is another licensor's owner, who may
manage a catalogue, only not this one.
"""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from marketplace.catalog.models import (
    Asset,
    Corpus,
    CorpusRevision,
    ManifestImport,
    Offer,
    OfferVersion,
    PreviewMedia,
    Withdrawal,
)
from marketplace.catalog.services import corpora, imports, offers, withdrawals
from tests.fixtures.market import CORPUS_DATA, OFFER_DATA, import_rows, manifest_csv, manifest_row, upload

REASON = "A rights claim was received."
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

# name -> (the attempt, the refusal it must meet)
ATTEMPTS = {
    "corpus_update": (
        lambda a, t: corpora.corpus_update(access=a, corpus=t["corpus"], data={**CORPUS_DATA, "title": "Taken over"}),
        Corpus.DoesNotExist,
    ),
    "corpus_submit": (lambda a, t: corpora.corpus_submit(access=a, corpus=t["corpus"]), Corpus.DoesNotExist),
    "corpus_revision_withdraw": (
        lambda a, t: corpora.corpus_revision_withdraw(access=a, corpus=t["corpus"]),
        Corpus.DoesNotExist,
    ),
    "preview_remove": (
        lambda a, t: corpora.preview_remove(access=a, preview=t["preview"]),
        ValidationError,
    ),
    "manifest_upload": (
        lambda a, t: imports.manifest_upload(
            access=a, corpus=t["corpus"], upload=upload("m.csv", manifest_csv([manifest_row("intruder")]))
        ),
        ValidationError,
    ),
    "offer_save, a new offer": (
        lambda a, t: offers.offer_save(access=a, corpus=t["corpus"], data={**OFFER_DATA, "name": "Intruder"}),
        Corpus.DoesNotExist,
    ),
    "offer_save, a new version": (
        lambda a, t: offers.offer_save(
            access=a, corpus=t["corpus"], data={**OFFER_DATA, "term_months": 1}, offer=t["offer"]
        ),
        Corpus.DoesNotExist,
    ),
    "offer_publish": (lambda a, t: offers.offer_publish(access=a, offer=t["draft"]), Offer.DoesNotExist),
    "offer_archive": (lambda a, t: offers.offer_archive(access=a, offer=t["offer"]), Offer.DoesNotExist),
    "assets_withdraw": (
        lambda a, t: withdrawals.assets_withdraw(
            access=a, corpus=t["corpus"], asset_ids=[t["asset"].pk], reason=REASON
        ),
        Corpus.DoesNotExist,
    ),
    "assets_withdraw_listed": (
        lambda a, t: withdrawals.assets_withdraw_listed(
            access=a, corpus=t["corpus"], external_ids=[t["asset"].external_id], reason=REASON
        ),
        Corpus.DoesNotExist,
    ),
    "corpus_withdraw": (
        lambda a, t: withdrawals.corpus_withdraw(access=a, corpus=t["corpus"], reason=REASON),
        Corpus.DoesNotExist,
    ),
    "missing_withdraw": (
        lambda a, t: withdrawals.missing_withdraw(access=a, manifest_import=t["import"], reason=REASON),
        ManifestImport.DoesNotExist,
    ),
    "rights_expired_withdraw": (
        lambda a, t: withdrawals.rights_expired_withdraw(access=a, corpus=t["corpus"], reason=REASON),
        Corpus.DoesNotExist,
    ),
}


@pytest.fixture
def target(licensor, operator, listed_corpus):
    """The victim's catalogue, with something for every attempt to act on: assets (one whose rights have
    expired), a re-upload that leaves one out, a published offer, a draft offer, a preview and a change waiting
    for review."""
    corpus = listed_corpus
    second = import_rows(
        licensor, corpus, [manifest_row("a0"), manifest_row("a1", rights_expiry="2020-01-31")], name="again.csv"
    )
    assert (second.status, second.missing) == ("done", 1)
    preview = corpora.preview_add(access=licensor, corpus=corpus, upload=SimpleUploadedFile("still.png", PNG))
    corpora.corpus_submit(access=licensor, corpus=corpus)
    corpus = corpora.corpus_review(access=operator, corpus_id=corpus.pk, approve=True)
    corpora.corpus_update(access=licensor, corpus=corpus, data={**CORPUS_DATA, "title": "A new title"}, waiting=None)
    draft = offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "name": "Not yet"}).offer
    return {
        "corpus": corpus,
        "asset": Asset.objects.get(corpus=corpus, external_id="a0"),
        "import": second,
        "offer": Offer.objects.get(corpus=corpus, status="published"),
        "draft": draft,
        "preview": preview,
    }


def _state(corpus: Corpus) -> dict:
    corpus.refresh_from_db()
    return {
        "corpus": (corpus.title, corpus.status, corpus.asset_count),
        "assets": sorted(Asset.objects.filter(corpus=corpus).values_list("external_id", "status")),
        "imports": ManifestImport.objects.filter(corpus=corpus).count(),
        "offers": sorted(Offer.objects.filter(corpus=corpus).values_list("pk", "status")),
        "versions": OfferVersion.objects.filter(offer__corpus=corpus).count(),
        "withdrawals": Withdrawal.objects.filter(corpus=corpus).count(),
        "revisions": sorted(CorpusRevision.objects.filter(corpus=corpus).values_list("pk", "status")),
        "previews": PreviewMedia.objects.filter(corpus=corpus).count(),
    }


@pytest.mark.parametrize("name", list(ATTEMPTS))
def test_a_service_refuses_another_organisations_catalogue_and_changes_nothing(name, target, other_licensor):
    attempt, refusal = ATTEMPTS[name]
    before = _state(target["corpus"])
    assert before["revisions"] == [(before["revisions"][0][0], "pending")] and before["previews"] == 1
    assert before["corpus"][1] == "published"
    with pytest.raises(refusal) as refused:
        attempt(other_licensor, target)
    if refusal is ValidationError:
        assert "another organisation" in str(refused.value)
    assert _state(target["corpus"]) == before
