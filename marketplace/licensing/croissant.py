"""A licence's delivery manifest as Croissant JSON-LD (MLCommons' dataset metadata format), with the licence
terms in it, so that a data pipeline can load the licensed files' metadata with ``mlcroissant``.

The records live in a CSV of the manifest at one manifest version; the Croissant document names its URL and
SHA-256. A withdrawal makes a new manifest version, and the CSV of an older version is then gone (410): the
document has to be fetched again, which is the point of a takedown.
"""

from __future__ import annotations

import hashlib
import json

from django.core.cache import cache
from django.db.models import Count, Max

from marketplace.licensing.certificates import latest_certificate, terms_document
from marketplace.licensing.delivery import manifest_assets, manifest_version
from marketplace.licensing.models import Licence
from marketplace.web.csv_stream import csv_lines

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileObject": "cr:fileObject",
    "fileProperty": "cr:fileProperty",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
    "cf": "https://clearframe.example/ns/licence#",
    "licenceTerms": {"@id": "cf:terms", "@type": "@json"},
}

# (column, Croissant data type, description)
COLUMNS = [
    ("asset_id", "sc:Integer", "The asset's id in the ClearFrame API: the key for its download link."),
    ("external_id", "sc:Text", "The rights holder's own id for the file."),
    ("title", "sc:Text", "Title."),
    ("sha256", "sc:Text", "SHA-256 of the file, hex; a leaf of the certificate's Merkle tree."),
    ("size_bytes", "sc:Integer", "File size in bytes."),
    ("duration_seconds", "sc:Float", "Duration in seconds."),
    ("width", "sc:Integer", "Frame width in pixels."),
    ("height", "sc:Integer", "Frame height in pixels."),
    ("fps", "sc:Float", "Frames per second."),
    ("codec", "sc:Text", "Video codec."),
    ("language", "sc:Text", "Spoken language, BCP 47; empty if none."),
    ("clip_exclusions", "sc:Text", "Time ranges that must not be used, as JSON [{start, end, reason}]."),
]
CSV_NAME = "manifest.csv"


def manifest_rows(licence: Licence):
    fields = [c for c, _, _ in COLUMNS if c not in ("asset_id", "clip_exclusions")]
    for row in manifest_assets(licence).values_list("pk", *fields, "clip_exclusions").iterator(chunk_size=5000):
        *values, exclusions = row
        yield [*values, json.dumps(exclusions, separators=(",", ":")) if exclusions else ""]


def manifest_csv(licence: Licence):
    """The manifest CSV's lines as they are now."""
    return csv_lines(manifest_rows(licence), [c for c, _, _ in COLUMNS])


def manifest_csv_sha256(licence: Licence, version: int) -> str:
    """Hashing a million-row manifest takes seconds, so it is remembered per manifest version and state (a
    re-import that edits a licensed file's metadata changes the CSV without a withdrawal)."""
    state = manifest_assets(licence).aggregate(n=Count("id"), changed=Max("updated_at"))
    changed = state["changed"].timestamp() if state["changed"] else 0
    key = f"croissant-csv-sha256:{licence.pk}:{version}:{state['n']}:{changed}"
    digest = cache.get(key)
    if digest is None:
        hasher = hashlib.sha256()
        for line in manifest_csv(licence):
            hasher.update(line.encode())
        digest = hasher.hexdigest()
        cache.set(key, digest, 24 * 3600)
    return digest


def croissant_document(licence: Licence, *, api_base: str, keys_url: str) -> dict:
    """``api_base`` is the absolute URL of /api/v1 as the caller reached it."""
    version = manifest_version(licence)
    certificate = latest_certificate(licence)
    terms = terms_document(licence)
    licence_url = f"{api_base}/licences/{licence.public_id}/"
    csv_url = f"{licence_url}manifest.csv?version={version}"
    uses = ", ".join(terms["permitted_uses"])
    territory = ", ".join(terms["territory"]) or "worldwide"
    record_set = "assets"
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "@id": licence_url,
        "name": f"{licence.corpus.slug}-{licence.public_id}",
        "description": (
            f"{licence.corpus.title}: the files {licence.licensee.name} may use under ClearFrame licence "
            f"{licence.public_id} from {licence.licensor.name}, for {uses}, in {territory}, "
            f"until {licence.ends_at:%Y-%m-%d}. Manifest version {version}."
        ),
        "url": licence_url,
        "license": f"{licence_url}certificate/",
        "usageInfo": (
            f"Permitted uses: {uses}. Territory: {territory}. Term: {licence.starts_at:%Y-%m-%d} to "
            f"{licence.ends_at:%Y-%m-%d}. Withdrawn files leave this manifest and must be deleted."
        ),
        "citeAs": f"{licence.corpus.title}, licensed from {licence.licensor.name} (ClearFrame {licence.public_id})",
        "creator": {"@type": "sc:Organization", "name": licence.licensor.name},
        "publisher": {"@type": "sc:Organization", "name": "ClearFrame"},
        "datePublished": licence.starts_at.date().isoformat(),
        "version": f"{certificate.version if certificate else 1}.{version}.0",
        "licenceTerms": {
            "licence": licence.public_id,
            "status": licence.status,
            "licensee": licence.licensee.name,
            "licensor": licence.licensor.name,
            "valid_from": licence.starts_at.isoformat(),
            "valid_until": licence.ends_at.isoformat(),
            "terms_hash": licence.terms_hash,
            "terms": terms,
            "manifest_version": version,
            "certificate": {
                "id": certificate.public_id,
                "version": certificate.version,
                "merkle_root": certificate.merkle_root,
                "url": f"{licence_url}certificate/?version={certificate.version}",
                "keys_url": keys_url,
            }
            if certificate
            else None,
        },
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": CSV_NAME,
                "name": CSV_NAME,
                "description": "The licensed files' metadata. Fetch with your API key (Bearer, or Basic as user).",
                "contentUrl": csv_url,
                "encodingFormat": "text/csv",
                "sha256": manifest_csv_sha256(licence, version),
            }
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": record_set,
                "name": record_set,
                "description": "One record per licensed file.",
                "key": {"@id": f"{record_set}/asset_id"},
                "field": [
                    {
                        "@type": "cr:Field",
                        "@id": f"{record_set}/{column}",
                        "name": column,
                        "description": description,
                        "dataType": data_type,
                        "source": {"fileObject": {"@id": CSV_NAME}, "extract": {"column": column}},
                    }
                    for column, data_type, description in COLUMNS
                ],
            }
        ],
    }
