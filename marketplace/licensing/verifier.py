"""Verify a ClearFrame licence certificate offline.

This module needs nothing but Python and the ``cryptography`` package: copy it
out of the project and run it anywhere. Given a certificate, the issuer's
public key(s), and optionally a file's SHA-256 with its inclusion proof, it
says "valid" or names what is wrong.

Format (``clearframe-licence-certificate/1``)::

    {"certificate": {... "merkle": {"algorithm": "sha256-rfc6962", "root": <hex>, "leaves": <n>},
                     "valid_from": <ISO 8601>, "valid_until": <ISO 8601>, ...},
     "signature": {"alg": "Ed25519", "kid": <key id>, "value": <base64>}}

The signature covers the canonical JSON of ``certificate`` (keys sorted, no
spaces, UTF-8). The Merkle tree is RFC 6962 style: leaves are
``SHA-256(0x00 || file digest)`` in ascending order of file digest, nodes are
``SHA-256(0x01 || left || right)``, and an odd last node is carried up as is.
A proof lists the sibling hashes from the leaf up, each with the side it sits on.

Command line::

    python verifier.py certificate.json --keys keys.json [--proof proof.json] [--sha256 HEX | --file PATH]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import sys
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "clearframe-licence-certificate/1"


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(file_sha256_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(file_sha256_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_levels(sorted_file_hashes: list[str]) -> list[list[bytes]]:
    """Every level of the tree, leaves first. The caller sorts and de-duplicates the digests."""
    level = [leaf_hash(h) for h in sorted_file_hashes]
    if not level:
        return [[hashlib.sha256(b"").digest()]]
    levels = [level]
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        levels.append(nxt)
        level = nxt
    return levels


def merkle_root(sorted_file_hashes: list[str]) -> str:
    return merkle_levels(sorted_file_hashes)[-1][0].hex()


def merkle_path(levels: list[list[bytes]], index: int) -> list[dict]:
    path = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append({"side": "left" if sibling < index else "right", "hash": level[sibling].hex()})
        index //= 2
    return path


def root_from_path(file_sha256_hex: str, path: list[dict]) -> str:
    current = leaf_hash(file_sha256_hex)
    for step in path:
        sibling = bytes.fromhex(step["hash"])
        if step["side"] == "left":
            current = node_hash(sibling, current)
        elif step["side"] == "right":
            current = node_hash(current, sibling)
        else:
            raise ValueError(f"unknown side {step['side']!r} in the proof")
    return current.hex()


def public_keys_from_jwks(document: dict) -> dict[str, Ed25519PublicKey]:
    """Read the issuer's published keys (``/.well-known/clearframe-keys.json``)."""
    keys = {}
    for jwk in document.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            keys[jwk["kid"]] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Result:
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        return "valid" if self.valid else "not valid: " + "; ".join(self.problems)


def verify(
    document: dict,
    keys: dict[str, Ed25519PublicKey],
    *,
    file_sha256: str | None = None,
    proof: dict | None = None,
    at: dt.datetime | None = None,
) -> Result:
    """Check the signature, the validity period and, if given, that the file is one of the licensed ones."""
    result = Result()
    certificate = document.get("certificate")
    signature = document.get("signature") or {}
    if not isinstance(certificate, dict) or certificate.get("format") != FORMAT:
        result.problems.append(f"this is not a {FORMAT} document")
        return result
    key = keys.get(signature.get("kid", ""))
    if signature.get("alg") != "Ed25519":
        result.problems.append(f"unsupported signature algorithm {signature.get('alg')!r}")
    elif key is None:
        result.problems.append(f"signed with key {signature.get('kid')!r}, which is not among the given public keys")
    else:
        try:
            key.verify(base64.b64decode(signature.get("value", "")), canonical(certificate))
        except (InvalidSignature, ValueError):
            result.problems.append(
                "the signature does not match the certificate (it was altered, or signed by another key)"
            )
    now = at or dt.datetime.now(dt.UTC)
    try:
        if now < _parse_time(certificate["valid_from"]):
            result.problems.append(f"the licence is not valid before {certificate['valid_from']}")
        if now >= _parse_time(certificate["valid_until"]):
            result.problems.append(f"the licence expired on {certificate['valid_until']}")
    except (KeyError, ValueError):
        result.problems.append("the certificate has no readable validity period")
    if proof is not None or file_sha256 is not None:
        root = (certificate.get("merkle") or {}).get("root")
        if proof is None:
            result.problems.append("a file was given without its inclusion proof")
        else:
            digest = (file_sha256 or proof.get("sha256") or "").lower()
            if file_sha256 and proof.get("sha256", "").lower() != file_sha256.lower():
                result.problems.append("the proof is for another file")
            elif proof.get("certificate_id") not in (None, certificate.get("certificate_id")):
                result.problems.append("the proof belongs to another certificate")
            else:
                try:
                    computed = root_from_path(digest, proof.get("path", []))
                except ValueError as exc:
                    result.problems.append(f"the proof is malformed: {exc}")
                else:
                    if computed != root:
                        result.problems.append(
                            "the proof does not lead to the certificate's Merkle root: the file is not covered"
                        )
    return result


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a ClearFrame licence certificate offline.")
    parser.add_argument("certificate")
    parser.add_argument("--keys", required=True, help="the issuer's published keys (JWKS JSON)")
    parser.add_argument("--proof", help="inclusion proof JSON for one file")
    parser.add_argument("--sha256", help="the file's SHA-256")
    parser.add_argument("--file", help="the file itself (its SHA-256 is computed)")
    parser.add_argument("--at", help="check validity at this ISO 8601 time instead of now")
    args = parser.parse_args(argv)
    with open(args.certificate) as fh:
        document = json.load(fh)
    with open(args.keys) as fh:
        keys = public_keys_from_jwks(json.load(fh))
    proof = None
    if args.proof:
        with open(args.proof) as fh:
            proof = json.load(fh)
    digest = args.sha256 or (_sha256_file(args.file) if args.file else None)
    result = verify(document, keys, file_sha256=digest, proof=proof, at=_parse_time(args.at) if args.at else None)
    print(result)
    return 0 if result.valid else 1


if __name__ == "__main__":
    sys.exit(main())
