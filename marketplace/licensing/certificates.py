"""Issuing certificates of lawful sourcing and inclusion proofs for licensed files."""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache

from django.db.models import Max, Q
from django.utils import timezone

from marketplace.catalog.models import Asset, AssetStatus
from marketplace.licensing import signing
from marketplace.licensing.models import Certificate, Licence, LicenceAsset
from marketplace.licensing.verifier import FORMAT, canonical, merkle_levels, merkle_path


def terms_document(licence: Licence) -> dict:
    """The frozen terms, as hashed into the certificate."""
    v = licence.offer_version
    return {
        "offer": v.offer_id,
        "offer_version": v.number,
        "permitted_uses": v.permitted_uses,
        "term_months": v.term_months,
        "territory": v.territory,
        "exclusive": v.exclusive,
        "attribution": v.attribution,
        "output_restrictions": v.output_restrictions,
        "no_identifiable_replicas": v.no_identifiable_replicas,
        "no_verbatim_scenes": v.no_verbatim_scenes,
        "no_derivative_works": v.no_derivative_works,
        "commission_bp": v.commission_bp,
        "currency": v.currency,
        "price_plan": v.price_plan,
        "scope": licence.scope,
    }


def terms_hash(licence: Licence) -> str:
    return hashlib.sha256(canonical(terms_document(licence))).hexdigest()


def licensed_hashes(licence: Licence, at=None) -> list[str]:
    """The SHA-256 of every file the licence covered at ``at`` (default now): a withdrawn file leaves
    the tree from the moment it was withdrawn."""
    assets = Asset.objects.filter(pk__in=LicenceAsset.objects.filter(licence=licence).values("asset_id"))
    if at is None:
        assets = assets.filter(status=AssetStatus.ACTIVE)
    else:
        assets = assets.filter(Q(status=AssetStatus.ACTIVE) | Q(withdrawal__created_at__gt=at))
    return sorted(set(assets.values_list("sha256", flat=True)))


def _iso(moment) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def certificate_issue(licence: Licence) -> Certificate:
    """Sign a new version of the licence's certificate over its current files (call inside a transaction)."""
    hashes = licensed_hashes(licence)
    version = (Certificate.objects.filter(licence=licence).aggregate(m=Max("version"))["m"] or 0) + 1
    certificate = Certificate(licence=licence, version=version, issued_at=timezone.now())
    body = {
        "format": FORMAT,
        "certificate_id": certificate.public_id,
        "version": version,
        "licence_id": licence.public_id,
        "issuer": "ClearFrame",
        "licensee": {"id": licence.licensee.party_ref, "name": licence.licensee.name},
        "licensor": {"id": licence.licensor.party_ref, "name": licence.licensor.name},
        "corpus": {"id": licence.corpus.slug, "title": licence.corpus.title},
        "terms_hash": licence.terms_hash,
        "terms": terms_document(licence),
        "valid_from": _iso(licence.starts_at),
        "valid_until": _iso(licence.ends_at),
        "merkle": {"algorithm": "sha256-rfc6962", "root": _root(tuple(hashes)), "leaves": len(hashes)},
        "issued_at": _iso(certificate.issued_at),
    }
    kid, value = signing.sign(canonical(body))
    certificate.document = {"certificate": body, "signature": {"alg": "Ed25519", "kid": kid, "value": value}}
    certificate.signature = value
    certificate.key_id = kid
    certificate.merkle_root = body["merkle"]["root"]
    certificate.leaf_count = len(hashes)
    certificate.save()
    return certificate


def _root(hashes: tuple[str, ...]) -> str:
    return _levels(hashes)[-1][0].hex()


@lru_cache(maxsize=8)
def _levels(hashes: tuple[str, ...]) -> list[list[bytes]]:
    return merkle_levels(list(hashes))


def latest_certificate(licence: Licence) -> Certificate:
    return Certificate.objects.filter(licence=licence).order_by("-version").first()


def inclusion_proof(certificate: Certificate, file_sha256: str) -> dict | None:
    """The path from one file to the certificate's root, or None if that version does not cover the file."""
    hashes = tuple(licensed_hashes(certificate.licence, at=certificate.issued_at))
    try:
        index = hashes.index(file_sha256.lower())
    except ValueError:
        return None
    levels = _levels(hashes)
    return {
        "certificate_id": certificate.public_id,
        "version": certificate.version,
        "sha256": file_sha256.lower(),
        "leaf_index": index,
        "leaves": len(hashes),
        "root": levels[-1][0].hex(),
        "path": merkle_path(levels, index),
    }
