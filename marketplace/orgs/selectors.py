"""Reads for organisation pages."""

from __future__ import annotations

from django.db.models import Count, Q, Sum

from ledger import services as ledger
from marketplace.orgs.models import Organisation


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
