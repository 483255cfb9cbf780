"""Reads for organisation pages."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from ledger import services as ledger
from marketplace.orgs.models import Invitation, Organisation


def invitations_unanswered(organisation: Organisation, email: str) -> QuerySet[Invitation]:
    """Invitations to this address neither accepted nor revoked (expired ones included)."""
    return Invitation.objects.filter(
        organisation=organisation, email__iexact=email.strip(), accepted_at__isnull=True, revoked_at__isnull=True
    )


def invitation_pending(organisation: Organisation, email: str) -> Invitation | None:
    """The invitation to this address still waiting for an answer, which inviting it again replaces."""
    return (
        invitations_unanswered(organisation, email)
        .filter(expires_at__gt=timezone.now())
        .order_by("-created_at")
        .first()
    )


def licensor_sales(org: Organisation, *, with_money: bool) -> dict:
    """Licences sold, and for those who may see money (as on the Earnings page): what buyers were charged on
    them, and the royalties the ledger owes the organisation now, per currency."""
    # Licensing and rating build on organisations: imported here, not at the top of a module they import.
    from marketplace.licensing.models import Licence, LicenceStatus
    from marketplace.rating.models import RatingCharge

    sales: dict = Licence.objects.filter(licensor=org).aggregate(
        sold=Count("id"), active=Count("id", filter=Q(status=LicenceStatus.ACTIVE))
    )
    if with_money:
        sales["charged"] = list(
            RatingCharge.objects.filter(licensor=org)
            .values("currency")
            .annotate(amount=Sum("amount"))
            .order_by("currency")
        )
        sales["owed"] = [
            b
            for b in ledger.account_balances(party_ref=org.party_ref)
            if b.account.code.startswith("royalty_payable:") and b.balance
        ]
    return sales
