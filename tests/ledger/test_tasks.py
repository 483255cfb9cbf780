"""The sealing task, run by a real Celery worker on Redis."""

import pytest

from ledger import services as ledger
from ledger.models import ChainSeal
from ledger.tasks import seal_chain
from ledger.types import NewEntry, credit, debit
from tests.fixtures.celery import wait_until
from tests.fixtures.ledger import eur, open_chart

pytestmark = [pytest.mark.celery, pytest.mark.postgres]


def test_worker_seals_committed_entries(celery_worker):
    open_chart("EUR")
    ids = [
        ledger.entry_post(
            NewEntry(legs=[debit("cash:stripe", eur(n)), credit("revenue:commission", eur(n))], description=f"#{n}")
        ).id
        for n in range(1, 6)
    ]
    seal_chain.delay()
    wait_until(lambda: ChainSeal.objects.count() == 5, timeout=30, message="the worker to seal five entries")
    assert list(ChainSeal.objects.order_by("seq").values_list("entry_id", flat=True)) == ids
    # Duplicate deliveries of the task, then one more entry: each entry is sealed once, in order.
    seal_chain.delay()
    seal_chain.delay()
    ids.append(
        ledger.entry_post(
            NewEntry(legs=[debit("cash:stripe", eur(9)), credit("revenue:commission", eur(9))], description="#9")
        ).id
    )
    seal_chain.delay()
    wait_until(lambda: ChainSeal.objects.count() == 6, timeout=30, message="the sixth seal")
    assert list(ChainSeal.objects.order_by("seq").values_list("entry_id", flat=True)) == ids
    report = ledger.chain_verify()
    assert report.ok
    assert report.sealed == 6
