"""Suite-wide configuration.

* ``@pytest.mark.postgres`` tests need PostgreSQL behaviour (row locks,
  deferred triggers, concurrency); they are skipped, with the reason, when the
  suite runs on SQLite.
* ``@pytest.mark.celery`` tests start a real worker and need a Redis broker.
* After every test that touched the database, the books must balance.
"""

import os

import pytest
from django.conf import settings

pytest_plugins = [
    "tests.fixtures.ledger",
    "tests.fixtures.celery",
    "tests.fixtures.market",
    "tests.fixtures.browser",
    "tests.fixtures.api",
    "tests.fixtures.receiver",
    "tests.fixtures.stripe",
]


def _vendor() -> str:
    return "postgresql" if "postgresql" in settings.DATABASES["default"]["ENGINE"] else "sqlite"


def pytest_collection_modifyitems(config, items):
    no_pg = pytest.mark.skip(
        reason="needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/clearframe (CI does)"
    )
    no_redis = pytest.mark.skip(
        reason="needs a Redis broker for a real Celery worker: set CELERY_BROKER_URL=redis://127.0.0.1:6379/0"
    )
    redis = os.environ.get("CELERY_BROKER_URL", "").startswith("redis://")
    for item in items:
        if "postgres" in item.keywords and _vendor() != "postgresql":
            item.add_marker(no_pg)
        if "celery" in item.keywords and not (redis and _vendor() == "postgresql"):
            item.add_marker(no_redis)


@pytest.fixture(autouse=True)
def _books_balance_after_test(request):
    """Every test that used the database must leave the books balanced in each currency."""
    used = [name for name in ("transactional_db", "db") if name in request.fixturenames]
    marker = request.node.get_closest_marker("django_db")
    if marker:
        used.append("transactional_db" if marker.kwargs.get("transaction") else "db")
    if not used:
        yield
        return
    # Set the database fixture up from here, so that it is torn down after this check.
    request.getfixturevalue(used[0])
    yield
    from django.db import connection
    from django.db.models import Sum

    from ledger.models import Account

    if connection.needs_rollback:
        return
    off = list(Account.objects.values("currency").annotate(total=Sum("net")).exclude(total=0))
    assert off == [], f"the books do not balance after this test: {off}"
