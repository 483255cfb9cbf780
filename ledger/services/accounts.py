"""Opening and looking up accounts."""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Substr

from ledger.errors import AccountMismatch, UnknownAccount
from ledger.models import Account
from ledger.money import validate_currency
from ledger.services._text import UNPRINTABLE as _UNPRINTABLE
from ledger.types import AccountInfo, AccountType


def _info(account: Account) -> AccountInfo:
    return AccountInfo(
        id=account.pk,
        code=account.code,
        currency=account.currency,
        name=account.name,
        type=AccountType(account.type),
        party_ref=account.party_ref,
        forbid_negative=account.forbid_negative,
    )


def account_open(
    *,
    code: str,
    currency: str,
    type: AccountType,
    name: str = "",
    party_ref: str = "",
    forbid_negative: bool = False,
) -> AccountInfo:
    """Open an account, or return it if it is already open with the same type.

    Safe to call on every use: concurrent callers get the same account.
    Asking for an existing account with another type or overdraft rule is a
    programming error and raises :class:`AccountMismatch`.
    """
    validate_currency(currency)
    type = AccountType(type)
    if not isinstance(code, str) or not code or len(code) > 200:
        raise ValueError("account code must be 1-200 characters")
    if _UNPRINTABLE.search(code):
        raise ValueError("account code must not hold control characters (such as a line break)")
    if any(segment in (".", "..") for segment in code.split("/")):
        # A browser resolves /./ and /../ in a page address: the finance page's link would open another account.
        raise ValueError("account code must not have '.' or '..' between slashes")
    if not isinstance(name, str) or len(name) > 200 or _UNPRINTABLE.search(name):
        raise ValueError("account name must be at most 200 characters, without control characters")
    # Checked here, as the name is: PostgreSQL refuses a longer one or a NUL with a DataError, and SQLite would
    # store either (and a party shown on the finance pages and handed to callers with every balance).
    if not isinstance(party_ref, str) or len(party_ref) > 100 or _UNPRINTABLE.search(party_ref):
        raise ValueError("party reference must be at most 100 characters, without control characters")
    defaults = {
        "name": name or code,
        "type": type.value,
        "party_ref": party_ref,
        "forbid_negative": forbid_negative,
    }
    try:
        with transaction.atomic():
            account, _ = Account.objects.get_or_create(code=code, currency=currency, defaults=defaults)
    except IntegrityError:
        account = Account.objects.get(code=code, currency=currency)
    if account.type != type.value or account.forbid_negative != forbid_negative:
        raise AccountMismatch(
            f"account {code!r} ({currency}) is already open as {account.type}"
            f"{' with no overdraft' if account.forbid_negative else ''}"
        )
    return _info(account)


def account_get(code: str, currency: str) -> AccountInfo:
    try:
        return _info(Account.objects.get(code=code, currency=currency))
    except Account.DoesNotExist:
        raise UnknownAccount(code, currency) from None


def accounts_list(*, party_ref: str | None = None, code_prefix: str | None = None) -> list[AccountInfo]:
    queryset = Account.objects.all()
    if party_ref is not None:
        queryset = queryset.filter(party_ref=party_ref)
    if code_prefix:
        queryset = with_code_prefix(queryset, code_prefix)
    return [_info(a) for a in queryset.order_by("code", "currency")]


def with_code_prefix(queryset, prefix: str):
    """Accounts whose code starts with ``prefix``, case and all, on every database."""
    queryset = queryset.filter(code__startswith=prefix)
    if connection.vendor == "sqlite":  # its LIKE ignores ASCII case
        queryset = queryset.alias(code_head=Substr("code", 1, len(prefix))).filter(code_head=prefix)
    return queryset
