"""Public identifiers like ``lic_4JX2M9QK7T3PZW8A``: opaque, unguessable, typed by their prefix.

The API and webhooks use them instead of database ids, as Stripe does.
"""

import secrets

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_id(prefix: str, length: int = 16) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


# Named module-level functions, so that migrations can refer to them as field defaults.
def new_quote_id() -> str:
    return new_id("quo")


def new_order_id() -> str:
    return new_id("ord")


def new_licence_id() -> str:
    return new_id("lic")


def new_certificate_id() -> str:
    return new_id("cert")


def new_api_key_id() -> str:
    return new_id("key")


def new_endpoint_id() -> str:
    return new_id("we")


def new_message_id() -> str:
    return new_id("msg")


def new_notice_id() -> str:
    return new_id("tdn")


def new_invoice_id() -> str:
    return new_id("inv")


def new_payout_run_id() -> str:
    return new_id("prun")


def new_payout_id() -> str:
    return new_id("pout")


def new_statement_id() -> str:
    return new_id("stmt")


def new_advance_id() -> str:
    return new_id("adv")
