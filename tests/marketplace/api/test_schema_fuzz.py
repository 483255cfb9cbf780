"""schemathesis against the live schema of a running server: generated requests for every operation must
never get a 5xx, and every response must match what the schema says (status, content type, headers, body);
invalid requests must be refused.

The database holds a real market (a published corpus, offers, a licence with files), so that list and
detail operations answer with real objects rather than only with 404s. Operations are driven one by one
through Hypothesis, so every failing operation is reported, not only the first.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.fixtures.api import buy

# Every check schemathesis has (server errors, status codes, content types, headers, response bodies, negative
# data rejected, authentication enforced...) except one: "schema-valid data is accepted" cannot hold for opaque
# cursors and ids, which are any string to the schema but only real ones to the server.
EXCLUDED = [positive_data_acceptance]
EXAMPLES_PER_OPERATION = 30


def fuzz(operation, headers: dict) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(case=operation.as_strategy())
    def run(case):
        case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)

    run()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_every_operation_keeps_to_the_schema(live_server, market, buyer):
    _, api = buyer
    buy(api, market["flat"])
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/?format=json")
    headers = {"Authorization": f"Bearer {api.secret}"}
    operations, failures = [], {}
    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation.label)
        try:
            fuzz(operation, headers)
        except (Exception, BaseExceptionGroup) as exc:  # collect every failing operation, then report them all
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:3000]
    assert len(operations) >= 20, operations
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
