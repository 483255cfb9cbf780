"""Delivery: manifests of licensed files with expiring signed links, and metered downloads.

A link is ``/api/v1/downloads/<token>``; the token carries the licence, the
asset, an expiry and a random nonce, signed with HMAC-SHA256 under a key
derived from ``SECRET_KEY``. Each successful download writes usage events
whose ids derive from the nonce, so retrying the same link is counted once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db.models import Max
from django.utils import timezone

from marketplace.catalog.models import Asset, AssetStatus, Withdrawal
from marketplace.licensing.models import Licence, LicenceAsset, LicenceStatus
from marketplace.orgs.models import Organisation
from marketplace.usage.models import Metric, Source
from marketplace.usage.services import usage_record_delivery


class DeliveryRefused(Exception):
    """A download that cannot be served; the message says why. ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.status = status


def _key() -> bytes:
    return hashlib.sha256(b"clearframe-download-links:" + settings.SECRET_KEY.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def link_token(licence: Licence, asset_id: int, *, ttl: int | None = None) -> tuple[str, dt.datetime]:
    expires = timezone.now() + dt.timedelta(seconds=ttl or settings.DOWNLOAD_LINK_TTL_SECONDS)
    body = json.dumps(
        {"l": licence.pk, "a": asset_id, "e": int(expires.timestamp()), "n": secrets.token_hex(12)},
        separators=(",", ":"),
    ).encode()
    signature = hmac.new(_key(), body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(signature)}", expires


@dataclass(frozen=True)
class Link:
    licence_id: int
    asset_id: int
    expires: dt.datetime
    nonce: str


def link_read(token: str) -> Link:
    try:
        body_text, signature_text = token.split(".", 1)
        body = _unb64(body_text)
        signature = _unb64(signature_text)
    except (ValueError, TypeError):
        raise DeliveryRefused("This download link is malformed.", 404) from None
    if not hmac.compare_digest(hmac.new(_key(), body, hashlib.sha256).digest(), signature):
        raise DeliveryRefused("This download link is not valid (its signature does not match).", 404)
    data = json.loads(body)
    return Link(data["l"], data["a"], dt.datetime.fromtimestamp(data["e"], tz=dt.UTC), data["n"])


def manifest_version(licence: Licence) -> int:
    """Changes whenever assets of the corpus are withdrawn: the id of the latest withdrawal."""
    return Withdrawal.objects.filter(corpus_id=licence.corpus_id).aggregate(m=Max("id"))["m"] or 0


def manifest_assets(licence: Licence):
    """The licence's files that may be delivered now: withdrawn ones have left every manifest."""
    return Asset.objects.filter(
        pk__in=LicenceAsset.objects.filter(licence=licence).values("asset_id"), status=AssetStatus.ACTIVE
    ).order_by("id")


def storage() -> Storage:
    return storages["delivery"]


def storage_key(storage_uri: str) -> str:
    """``s3://bucket/path/file.mp4`` is stored under ``bucket/path/file.mp4``."""
    _, _, rest = storage_uri.partition("://")
    return rest.lstrip("/")


@dataclass(frozen=True)
class Download:
    asset: Asset
    stream: object
    filename: str


def download_open(*, licensee: Organisation, token: str) -> Download:
    """Check the link, the licence and the asset, open the file, and meter the delivery."""
    link = link_read(token)
    licence = Licence.objects.filter(pk=link.licence_id).first()
    if licence is None or licence.licensee_id != licensee.pk:
        raise DeliveryRefused("This download link belongs to another licensee.", 404)
    if link.expires <= timezone.now():
        raise DeliveryRefused(
            f"This download link expired at {link.expires.isoformat()}; fetch the manifest again.", 410
        )
    if licence.status != LicenceStatus.ACTIVE:
        raise DeliveryRefused(f"Licence {licence.public_id} is {licence.status}; nothing can be downloaded under it.")
    asset = Asset.objects.filter(pk=link.asset_id).first()
    if asset is None or not LicenceAsset.objects.filter(licence=licence, asset=asset).exists():
        raise DeliveryRefused("This asset is not part of the licence.", 404)
    if asset.status != AssetStatus.ACTIVE:
        raise DeliveryRefused(
            "This asset was withdrawn by its rights holder and can no longer be delivered; remove it from your copy.",
            410,
        )
    store = storage()
    key = storage_key(asset.storage_uri)
    if not store.exists(key):
        raise DeliveryRefused("The file is not available in storage right now; try again later.", 503)
    stream = store.open(key, "rb")
    now = timezone.now()
    usage_record_delivery(
        licensee=licensee,
        licence=licence,
        asset=asset,
        events=[
            (f"delivery:{link.nonce}:seconds", Metric.SECONDS_DELIVERED, asset.duration_seconds),
            (f"delivery:{link.nonce}:bytes", Metric.BYTES_DELIVERED, store.size(key)),  # what is sent
            (f"delivery:{link.nonce}:assets", Metric.ASSETS_DELIVERED, 1),
        ],
        occurred_at=now,
        source=Source.DELIVERY,
    )
    return Download(asset, stream, key.rsplit("/", 1)[-1])
