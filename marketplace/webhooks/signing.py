"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secrets_: list[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Headers for one delivery; during a rotation both secrets sign, space-separated."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets_),
        "content-type": "application/json",
        "user-agent": "ClearFrame-Webhooks/1",
    }


def verify(secret: str, headers_: dict[str, str], body: bytes, *, tolerance: int = 300, now: int | None = None) -> bool:
    """What a receiver does (used by our tests and documented in docs/api.md)."""
    import time

    timestamp = int(headers_["webhook-timestamp"])
    if abs((now or int(time.time())) - timestamp) > tolerance:
        return False
    expected = signature(secret, headers_["webhook-id"], timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in headers_["webhook-signature"].split())
