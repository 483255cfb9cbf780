"""The marketplace's Ed25519 signing keys: loaded from PEM files, published as a JWKS.

``CERTIFICATE_SIGNING_KEY_FILES`` lists PEM files, newest first: the first signs,
all are published, so certificates signed before a rotation still verify. In
development and tests a key is generated under ``var/keys`` on first use;
production requires the files to exist.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _kid(public_raw: bytes) -> str:
    return "cf-" + hashlib.sha256(public_raw).hexdigest()[:16]


def _load(path: Path) -> SigningKey:
    if not path.exists():
        if not getattr(settings, "CERTIFICATE_KEYS_AUTOCREATE", False):
            raise ImproperlyConfigured(f"certificate signing key {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{path} is not an Ed25519 private key")
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(_kid(raw), private)


@lru_cache(maxsize=1)
def signing_keys() -> tuple[SigningKey, ...]:
    files = [Path(p) for p in settings.CERTIFICATE_SIGNING_KEY_FILES]
    if not files:
        raise ImproperlyConfigured("CERTIFICATE_SIGNING_KEY_FILES is empty")
    return tuple(_load(p) for p in files)


def active_key() -> SigningKey:
    return signing_keys()[0]


def sign(message: bytes) -> tuple[str, str]:
    key = active_key()
    return key.kid, base64.b64encode(key.private.sign(message)).decode()


def jwks() -> dict:
    keys = signing_keys()
    return {
        "keys": [
            {
                "kid": key.kid,
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "x": base64.urlsafe_b64encode(key.public_raw).decode().rstrip("="),
                "status": "active" if i == 0 else "retired",
            }
            for i, key in enumerate(keys)
        ]
    }
