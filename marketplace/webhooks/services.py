"""Endpoints, fan-out of domain events to licensees, delivery with retries, replay, takedown notices."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import socket
import time
import urllib.request
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from marketplace.events.models import DomainEvent
from marketplace.webhooks import signing
from marketplace.webhooks.models import (
    EVENT_TYPES,
    DeliveryAttempt,
    DeliveryStatus,
    TakedownNotice,
    WebhookDelivery,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)

# Seconds to wait before each retry: about three days in all, then give up.
BACKOFF = [10, 60, 300, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 24 * 3600]
SECRET_OVERLAP = dt.timedelta(hours=24)
TIMEOUT_SECONDS = 10


def _check_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise ValidationError({"url": "Give an http(s) URL."})
    if settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        return url
    if parsed.scheme != "https":
        raise ValidationError({"url": "Webhook endpoints must use https."})
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parsed.hostname, parsed.port or 443)}
    except socket.gaierror:
        raise ValidationError({"url": f"{parsed.hostname} does not resolve."}) from None
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise ValidationError({"url": f"{parsed.hostname} resolves to a private or loopback address ({ip})."})
    return url


def _check_events(events) -> list[str]:
    if not isinstance(events, list) or not events:
        raise ValidationError({"events": f"Choose at least one event: {', '.join(EVENT_TYPES)}."})
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise ValidationError(
            {"events": f"Unknown event(s) {', '.join(map(str, unknown))}; use: {', '.join(EVENT_TYPES)}."}
        )
    return sorted(set(events))


def endpoint_create(*, organisation, url: str, events) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        organisation=organisation, url=_check_url(url), events=_check_events(events), secret=signing.new_secret()
    )


def endpoint_update(*, endpoint: WebhookEndpoint, url: str | None = None, events=None, active: bool | None = None):
    if url is not None:
        endpoint.url = _check_url(url)
    if events is not None:
        endpoint.events = _check_events(events)
    if active is not None:
        endpoint.active = active
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret signs from now on; the old one keeps signing too for 24 hours, so receivers can switch."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + SECRET_OVERLAP
    endpoint.secret = signing.new_secret()
    endpoint.save()
    return endpoint


def active_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The secrets that sign deliveries now: the current one, and the previous one during its overlap."""
    found = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > timezone.now()
    ):
        found.append(endpoint.previous_secret)
    return found


# --- fan-out ------------------------------------------------------------------------------


def _licence_payload(licence) -> dict:
    return {
        "id": licence.public_id,
        "corpus": licence.corpus.slug,
        "status": licence.status,
        "starts_at": licence.starts_at.isoformat(),
        "ends_at": licence.ends_at.isoformat(),
    }


def _recipients(event: DomainEvent) -> list[tuple[int, dict, object]]:
    """(licensee organisation id, payload, takedown notice or None) for each party the event concerns.

    For a withdrawal this is also where each affected licence gets its takedown notice and a new
    certificate version: it runs once per event, inside the dispatch transaction.
    """
    from marketplace.catalog.models import Asset
    from marketplace.licensing.certificates import certificate_issue
    from marketplace.licensing.delivery import manifest_version
    from marketplace.licensing.models import Licence, LicenceAsset, LicenceStatus

    if event.type in ("licence.issued", "licence.expiring", "licence.expired"):
        licence = Licence.objects.select_related("corpus").filter(public_id=event.payload["licence"]).first()
        if licence is None:
            return []
        return [(licence.licensee_id, {"licence": _licence_payload(licence)}, None)]
    if event.type == "asset.withdrawn":
        withdrawal_id = event.payload["withdrawal"]
        withdrawn = Asset.objects.filter(withdrawal_id=withdrawal_id).values("id")
        affected = (
            LicenceAsset.objects.filter(
                asset_id__in=withdrawn, licence__status__in=[LicenceStatus.ACTIVE, LicenceStatus.SUSPENDED]
            )
            .values("licence_id")
            .annotate(n=Count("id"))
        )
        out = []
        for row in affected:
            licence = Licence.objects.select_related("corpus").get(pk=row["licence_id"])
            version = manifest_version(licence)
            notice, created = TakedownNotice.objects.get_or_create(
                withdrawal_id=withdrawal_id,
                licence=licence,
                defaults={"asset_count": row["n"], "manifest_version": version},
            )
            if created:
                # The licence's certificate is reissued without the withdrawn files.
                certificate_issue(licence)
            external_ids = list(
                Asset.objects.filter(
                    withdrawal_id=withdrawal_id, pk__in=LicenceAsset.objects.filter(licence=licence).values("asset_id")
                )
                .order_by("id")
                .values_list("external_id", flat=True)[:1000]
            )
            out.append(
                (
                    licence.licensee_id,
                    {
                        "takedown": notice.public_id,
                        "licence": _licence_payload(licence),
                        "asset_count": row["n"],
                        "external_ids": external_ids,
                        "manifest_version": version,
                        "reason": event.payload.get("reason", ""),
                        "acknowledge": f"/api/v1/takedowns/{notice.public_id}/acknowledge",
                    },
                    notice,
                )
            )
        return out
    return []


def events_dispatch(limit: int = 200) -> int:
    """Turn new domain events into deliveries for subscribed endpoints. Safe to run concurrently."""
    created = 0
    with transaction.atomic():
        events = list(
            DomainEvent.objects.select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True)
            .order_by("id")[:limit]
        )
        for event in events:
            for organisation_id, data, _notice in _recipients(event):
                endpoints = WebhookEndpoint.objects.filter(organisation_id=organisation_id, active=True)
                for endpoint in endpoints:
                    if event.type not in endpoint.events:
                        continue
                    delivery, made = WebhookDelivery.objects.get_or_create(
                        endpoint=endpoint,
                        event=event,
                        defaults={"type": event.type, "payload": {}, "next_attempt_at": timezone.now()},
                    )
                    if made:
                        delivery.payload = {
                            "id": delivery.message_id,
                            "type": event.type,
                            "created_at": event.created_at.isoformat(),
                            "data": data,
                        }
                        delivery.save(update_fields=["payload"])
                        created += 1
                        transaction.on_commit(lambda pk=delivery.pk: _enqueue(pk))
            event.dispatched_at = timezone.now()
            event.save(update_fields=["dispatched_at"])
    return created


def _enqueue(delivery_pk: int) -> None:
    from marketplace.webhooks.tasks import send_webhook

    try:
        send_webhook.delay(delivery_pk)
    except Exception:  # the sweeper sends what is due
        log.exception("could not enqueue webhook delivery %s", delivery_pk)


# --- sending ------------------------------------------------------------------------------


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - checked URL
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def delivery_send(delivery_pk: int) -> WebhookDelivery | None:
    """One attempt, if the delivery is due. Success ends it; failure schedules the next try with backoff."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(pk=delivery_pk, status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
            .first()
        )
        if delivery is None:
            return None
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        now = int(time.time())
        started = time.monotonic()
        status, error = None, ""
        try:
            status = _post(
                delivery.endpoint.url,
                body,
                signing.headers(active_secrets(delivery.endpoint), delivery.message_id, now, body),
            )
        except Exception as exc:  # network errors are the receiver's problem, recorded and retried
            error = f"{type(exc).__name__}: {exc}"[:1000]
        elapsed = int((time.monotonic() - started) * 1000)
        DeliveryAttempt.objects.create(delivery=delivery, status_code=status, error=error, duration_ms=elapsed)
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        delivery.last_status_code = status
        delivery.last_error = error or ("" if status and 200 <= status < 300 else f"HTTP {status}")
        if status and 200 <= status < 300:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = timezone.now()
        elif delivery.attempts > len(BACKOFF):
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=BACKOFF[delivery.attempts - 1])
        delivery.save()
    return delivery


def deliveries_due(limit: int = 200) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, with the same webhook-id (receivers may de-duplicate on it)."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    transaction.on_commit(lambda: _enqueue(delivery.pk))
    return delivery


@transaction.atomic
def takedown_acknowledge(*, notice: TakedownNotice, by: str) -> TakedownNotice:
    notice = TakedownNotice.objects.select_for_update().get(pk=notice.pk)
    if notice.acknowledged_at is None:
        notice.acknowledged_at = timezone.now()
        notice.acknowledged_by = by[:100]
        notice.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return notice


def notices_for(organisation):
    return TakedownNotice.objects.filter(licence__licensee=organisation).select_related("licence", "withdrawal")
