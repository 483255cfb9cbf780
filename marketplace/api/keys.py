"""Creating, checking and revoking API keys. The secret is shown once; only its SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from marketplace.api.models import ApiKey
from marketplace.orgs.access import OrgAccess, Perm

KEY_PREFIX = "cf_live_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, access: OrgAccess, name: str) -> tuple[ApiKey, str]:
    """Returns the key and its secret; the secret cannot be shown again."""
    access.require(Perm.MANAGE_API)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the key after what uses it (for example 'training pipeline')."})
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        organisation=access.organisation,
        name=name[:100],
        prefix=secret[: len(KEY_PREFIX) + 6],
        secret_hash=hash_secret(secret),
        created_by=access.user,
    )
    return key, secret


@transaction.atomic
def api_key_revoke(*, access: OrgAccess, key_id: str) -> ApiKey:
    access.require(Perm.MANAGE_API)
    key = ApiKey.objects.select_for_update().get(public_id=key_id, organisation=access.organisation)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_lookup(secret: str) -> ApiKey | None:
    return ApiKey.objects.select_related("organisation").filter(secret_hash=hash_secret(secret)).first()


def api_key_touch(key: ApiKey) -> None:
    """Record use, at most once a minute per key, so hot keys do not write on every request."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
