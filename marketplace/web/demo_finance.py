"""Demo finance for `make run`: rights holders paid by bank, a payout run awaiting review (a second finance user
can approve what the first reviewed), and last month's royalty statements. Keyed, so loading twice changes
nothing."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from marketplace.orgs.models import Organisation, Role
from marketplace.orgs.services import membership_set
from marketplace.payouts.models import PayeeProfile, Rail
from marketplace.payouts.services import payout_run_propose
from marketplace.periods import previous_month
from marketplace.statements.services import statements_issue

CONTROLLER = "controller@clearframe.example"
FINANCE_USER = "finance@clearframe.example"
BANK_DETAILS = {
    "northlight-studios": ("Northlight Studios SAS", "FR7630006000011234567890189", "AGRIFRPPXXX"),
    "harbour-stock": ("Harbour Stock Ltd", "DE89370400440532013000", "COBADEFFXXX"),
}


def load_demo_finance_people(*, password: str) -> None:
    """Two finance users in the operator organisation, so that one can approve what the other proposed."""
    users = get_user_model()
    if not users.objects.filter(username=CONTROLLER).exists():
        users.objects.create_user(CONTROLLER, email=CONTROLLER, password=password, is_staff=True, first_name="Cam")
    operator = Organisation.objects.get(slug="clearframe-ops")
    for email in (FINANCE_USER, CONTROLLER):  # moving money needs the finance role in the operator organisation
        if not operator.memberships.filter(user__username=email).exists():
            membership_set(organisation=operator, user=users.objects.get(username=email), role=Role.FINANCE)


def load_demo_finance() -> dict[str, int]:
    for slug, (holder, iban, bic) in BANK_DETAILS.items():
        org = Organisation.objects.get(slug=slug)
        PayeeProfile.objects.get_or_create(
            organisation=org, defaults={"rail": Rail.BANK, "account_holder": holder, "iban": iban, "bic": bic}
        )
    statements = statements_issue(period=previous_month(timezone.now()))
    run = payout_run_propose(currency="EUR")
    return {"statements": len(statements), "payout_runs": 1 if run else 0}
