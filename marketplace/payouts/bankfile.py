"""ISO 20022 pain.001 credit-transfer files for rights holders paid by bank (SEPA, EUR), via ``sepaxml``."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from sepaxml import SepaTransfer

PAIN_SCHEMA = "pain.001.001.03"


def pain001(*, message_id: str, payouts: list, execution_date: dt.date) -> str:
    """One payment per payout; the end-to-end id is the payout's id, which the bank statement echoes back."""
    transfer = SepaTransfer(
        {
            "name": settings.PAYOUT_DEBTOR_NAME,
            "IBAN": settings.PAYOUT_DEBTOR_IBAN,
            "BIC": settings.PAYOUT_DEBTOR_BIC,
            "batch": True,
            "currency": "EUR",
        },
        schema=PAIN_SCHEMA,
        clean=True,
    )
    transfer.msg_id = message_id  # our run's id, so the bank's status reports can be matched to the run
    transfer._xml.find("CstmrCdtTrfInitn/GrpHdr/MsgId").text = message_id
    for payout in payouts:
        payee = payout.licensor.payee
        transfer.add_payment(
            {
                "name": payee.account_holder,
                "IBAN": payee.iban,
                "BIC": payee.bic,
                "amount": payout.amount,
                "execution_date": execution_date,
                "description": f"ClearFrame royalties {payout.public_id}",
                "endtoend_id": payout.public_id,
            }
        )
    return transfer.export(validate=True, pretty_print=True).decode()
