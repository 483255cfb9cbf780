"""Demo organisations, people, corpora (imported through the real manifest pipeline) and offers."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import struct
import zlib
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File

from marketplace.catalog.manifest import shares_text
from marketplace.catalog.models import Corpus, CorpusStatus, ImportStatus, ManifestImport
from marketplace.catalog.services import corpora, imports, offers
from marketplace.orgs.access import OrgAccess
from marketplace.orgs.models import Membership, Organisation, OrgKind, Role
from marketplace.orgs.services import membership_set, organisation_create

PREVIEW_COLOURS = [((18, 52, 86), (230, 160, 60)), ((20, 90, 70), (200, 220, 240))]  # dusk; morning


def _gradient_png(width: int, height: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> bytes:
    """A small PNG still (a vertical gradient) made without an imaging library, for the demo's previews."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(
        b"\x00" + bytes(round(a + (b - a) * y / (height - 1)) for a, b in zip(top, bottom, strict=True)) * width
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PASSWORD = "clearframe-demo"  # noqa: S105 - the published demo login, local only

PEOPLE = {
    "ops@clearframe.example": ("Olivia Operator", "clearframe-ops", Role.OWNER),
    "studio@northlight.example": ("Nadia North", "northlight-studios", Role.OWNER),
    "catalog@northlight.example": ("Cato Manager", "northlight-studios", Role.CATALOG_MANAGER),
    "editor@harbourstock.example": ("Hugo Harbour", "harbour-stock", Role.OWNER),
    "ml@lumen-ai.example": ("Lena Lumen", "lumen-ai", Role.OWNER),
    "data@kestrel.example": ("Kai Kestrel", "kestrel-labs", Role.OWNER),
}
ORGS = {
    "clearframe-ops": ("ClearFrame Market Operations", OrgKind.OPERATOR),
    "northlight-studios": ("Northlight Studios", OrgKind.LICENSOR),
    "harbour-stock": ("Harbour Stock", OrgKind.LICENSOR),
    "lumen-ai": ("Lumen AI", OrgKind.LICENSEE),
    "kestrel-labs": ("Kestrel Labs", OrgKind.LICENSEE),
}

CORPORA = [
    {
        "org": "northlight-studios", "rows": 15_000, "prefix": "nl-city", "publish": True,
        "title": "Northlight City and Nature 4K",
        "description": "Professionally shot 4K footage of cities, coasts and forests across Europe, with clean "
        "audio and no people in close-up. Shot 2019-2025 by Northlight's own crews.",
        "languages": ["zxx", "en"], "genres": ["nature", "urban", "travel"], "content_rating": "all_ages",
        "territory": ["WW"], "themes": ["harbour at dawn", "forest path", "city traffic", "coastline", "tram",
                                       "market square", "mountain lake", "rainy street", "bridge at night"],
        "chain_of_title": "All footage was shot by Northlight staff crews under employment contracts; Northlight "
        "Studios owns the copyright outright. Location releases on file.",
    },
    {
        "org": "northlight-studios", "rows": 5_000, "prefix": "nl-kitchen", "publish": True,
        "title": "Northlight Kitchen Stories",
        "description": "Home cooking in real kitchens: hands, ingredients, techniques, narrated in English and "
        "French. Faces appear with signed model releases.",
        "languages": ["en", "fr"], "genres": ["lifestyle", "education"], "content_rating": "all_ages",
        "territory": ["FR", "BE", "CH", "GB", "US", "CA"], "themes": ["kneading dough", "chopping onions",
                                                                     "pasta", "baking bread", "plating"],
        "chain_of_title": "Commissioned from 14 independent creators under work-for-hire agreements assigning "
        "copyright to Northlight Studios; model releases for every presenter. Co-produced with Harbour Stock, "
        "which holds a quarter of the royalties.",
        "co_owners": "northlight-studios:75;harbour-stock:25",
        "recut": 250,  # uploaded again with every 250th video re-edited: the latest import shows what changed
    },
    {
        "org": "harbour-stock", "rows": 12_000, "prefix": "hs-air", "publish": True,
        "title": "Harbour Aerial Archive",
        "description": "Drone footage of ports, coastlines and farmland in 2.7K and 4K, with GPS-stamped "
        "capture metadata. Contributor-owned, licensed to Harbour Stock exclusively.",
        "languages": ["zxx"], "genres": ["aerial", "stock", "nature"], "content_rating": "all_ages",
        "territory": ["WW"], "themes": ["port cranes", "container ship", "wheat fields", "cliffs", "river delta"],
        "chain_of_title": "Exclusive licences from 212 contributing pilots, each with the right to sublicense for "
        "AI training (contributor agreement v3, 2023). Revenue shares as per agreement.",
        # Proposed after publication: waits in the operator's review queue.
        "revision": {
            "chain_of_title": "Exclusive licences from 231 contributing pilots, each with the right to sublicense "
            "for AI training (contributor agreement v4, 2026, which adds the 19 pilots of the Baltic series). "
            "Revenue shares as per agreement.",
        },
    },
    {
        "org": "harbour-stock", "rows": 3_000, "prefix": "hs-sport", "publish": False,
        "title": "Harbour Sports Moments",
        "description": "Amateur and semi-professional sports: football, cycling, surfing and climbing, filmed "
        "at club events with participant consent.",
        "languages": ["zxx"], "genres": ["sports"], "content_rating": "all_ages", "territory": ["GB", "IE", "FR"],
        "themes": ["football match", "cycling race", "surfing", "bouldering"],
        "chain_of_title": "Filmed by Harbour Stock at club events under venue agreements; participant consent "
        "forms collected by each club.",
    },
]  # fmt: skip

OFFERS = {
    "Research licence, 12 months": {
        "permitted_uses": ["pre_training", "fine_tuning", "evaluation"], "term_months": 12, "territory": ["WW"],
        "price_plan": {"metric": "hours", "tiers": [{"up_to": "1000", "unit_price": 12000},
                                                    {"up_to": None, "unit_price": 9000}]},
    },
    "Evaluation only, 6 months": {
        "permitted_uses": ["evaluation"], "term_months": 6, "territory": ["WW"],
        "price_plan": {"metric": None, "tiers": [], "flat_fee": 250000},
    },
    "Committed volume, per GB": {
        "permitted_uses": ["pre_training", "fine_tuning"], "term_months": 24, "territory": ["WW"],
        "price_plan": {"metric": "gb", "tiers": [{"up_to": None, "unit_price": 450}],
                       "prepaid_commitment": 5000000, "overage_unit_price": 350},
    },
}  # fmt: skip


def _people() -> dict[str, object]:
    users = get_user_model()
    result = {}
    for email, (name, _, _) in PEOPLE.items():
        user = users.objects.filter(username=email).first()
        if user is None:
            first, _, last = name.partition(" ")
            user = users.objects.create_user(email, email=email, password=PASSWORD, first_name=first, last_name=last)
        result[email] = user
    return result


def _orgs(people) -> dict[str, Organisation]:
    owners = {slug: people[email] for email, (_, slug, role) in PEOPLE.items() if role == Role.OWNER}
    result = {}
    for slug, (name, kind) in ORGS.items():
        org = Organisation.objects.filter(slug=slug).first()
        if org is None:
            org = organisation_create(name=name, kind=kind, owner=owners[slug], slug=slug)
        result[slug] = org
    for email, (_, slug, role) in PEOPLE.items():
        membership_set(organisation=result[slug], user=people[email], role=role)
    Organisation.objects.filter(slug="lumen-ai").update(invoicing_approved=True)
    finance = get_user_model().objects.filter(username="finance@clearframe.example").first()
    if finance:
        membership_set(organisation=result["clearframe-ops"], user=finance, role=Role.FINANCE)
    return result


def _manifest(path: Path, spec: dict, rng: random.Random) -> None:
    formats = [(3840, 2160, "hevc", 45_000_000), (1920, 1080, "h264", 12_000_000), (2704, 1520, "h264", 30_000_000)]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["external_id", "title", "duration_seconds", "width", "height", "fps", "codec", "size_bytes", "sha256",
             "storage_uri", "language", "rights_expiry", "territories", "clip_exclusions", "co_owners"]
        )  # fmt: skip
        for n in range(1, spec["rows"] + 1):
            width, height, codec, bitrate = rng.choice(formats)
            seconds = rng.randint(80, 1800) / 10
            external_id = f"{spec['prefix']}-{n:06d}"
            exclusions = ""
            if rng.random() < 0.05 and seconds > 20:
                exclusions = f"5-{min(15, int(seconds))}:{rng.choice(['music', 'brand', 'likeness'])}"
            co_owners = "harbour-stock:60;northlight-studios:40" if spec["prefix"] == "hs-air" and n % 50 == 0 else ""
            expiry = ""
            if spec["prefix"] == "nl-kitchen" and n % 10 == 0:  # a few with rights that ran out: the import warns
                expiry = "2026-06-30" if n % 1000 == 0 else "2031-12-31"
            writer.writerow(
                [
                    external_id, f"{rng.choice(spec['themes']).capitalize()} #{n}", f"{seconds:.1f}", width, height,
                    rng.choice(["25", "29.97", "50"]), codec, int(seconds * bitrate / 8),
                    hashlib.sha256(external_id.encode()).hexdigest(),
                    f"s3://{spec['org']}-media/{spec['prefix']}/{external_id}.mp4", rng.choice(spec["languages"]),
                    expiry, "", exclusions, co_owners,
                ]
            )  # fmt: skip


def _import(corpus: Corpus, owner, path: Path) -> None:
    """A CSV manifest imported as the Celery job would, here and now."""
    with path.open("rb") as fh:
        mi = ManifestImport.objects.create(
            corpus=corpus, uploaded_by=owner, file=File(fh, name=path.name), original_name=path.name, format="csv",
            size_bytes=path.stat().st_size,
        )  # fmt: skip
    imports.manifest_import_run(mi.pk)


def _recut(path: Path, every: int) -> Path:
    """The same manifest with every ``every``-th video re-edited (a new cut: title, duration, size, hash)."""
    recut = path.with_name(f"{path.stem}-recut.csv")
    with path.open(newline="", encoding="utf-8") as source, recut.open("w", newline="", encoding="utf-8") as out:
        reader, writer = csv.DictReader(source), None
        for n, row in enumerate(reader, start=1):
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [])
                writer.writeheader()
            if n % every == 0:
                row["title"] += " (recut)"
                row["duration_seconds"] = f"{float(row['duration_seconds']) + 2:.1f}"  # exclusions still fit
                row["size_bytes"] = str(int(row["size_bytes"]) * 11 // 10)
                row["sha256"] = hashlib.sha256(f"{row['external_id']} recut".encode()).hexdigest()
            writer.writerow(row)
    return recut


def load_demo_catalog(*, progress=print) -> dict[str, int]:
    people = _people()
    orgs = _orgs(people)
    operator = OrgAccess(
        orgs["clearframe-ops"],
        Membership.objects.get(user=people["ops@clearframe.example"], organisation=orgs["clearframe-ops"]),
    )
    rng = random.Random(2026)  # noqa: S311 - reproducible demo data, not secrets
    manifests = Path(settings.VAR_DIR) / "demo"
    manifests.mkdir(parents=True, exist_ok=True)
    created = 0
    for spec in CORPORA:
        org = orgs[spec["org"]]
        owner = next(people[e] for e, (_, slug, role) in PEOPLE.items() if slug == spec["org"] and role == Role.OWNER)
        access = OrgAccess(org, Membership.objects.get(user=owner, organisation=org))
        corpus = Corpus.objects.filter(organisation=org, title=spec["title"]).first()
        if corpus is None:
            corpus = corpora.corpus_create(access=access, data={k: spec.get(k, "") for k in corpora.EDITABLE})
            created += 1
        if not corpus.imports.filter(status=ImportStatus.DONE).exists():
            path = manifests / f"{spec['prefix']}.csv"
            _manifest(path, spec, rng)
            progress(f"importing {spec['rows']:,} assets into {corpus.title}…")
            _import(corpus, owner, path)
            if spec.get("recut"):
                progress(f"importing {corpus.title} again, {spec['rows'] // spec['recut']} videos re-edited…")
                _import(corpus, owner, _recut(path, spec["recut"]))
        if corpus.status != CorpusStatus.WITHDRAWN and not corpus.previews.exists():
            for n, (top, bottom) in enumerate(PREVIEW_COLOURS):
                image = File(io.BytesIO(_gradient_png(320, 180, top, bottom)), name="preview.png")
                caption = f"{spec['title']}, still {n + 1}"
                corpora.preview_add(access=access, corpus=corpus, upload=image, caption=caption)
        if not corpus.offers.exists():
            for name, terms in OFFERS.items():
                # An offer grants at most the corpus' rights: here, all of them.
                data = {"name": name, "currency": "EUR", "commission_bp": 2000, "no_identifiable_replicas": True,
                        "no_verbatim_scenes": True, "no_derivative_works": True, **terms,
                        "territory": spec["territory"]}  # fmt: skip
                version = offers.offer_save(access=access, corpus=corpus, data=data)
                offers.offer_publish(access=access, offer=version.offer)
        corpus.refresh_from_db()
        if corpus.status == CorpusStatus.DRAFT:
            corpus = corpora.corpus_submit(access=access, corpus=corpus)
            if spec["publish"] and corpus.status == CorpusStatus.IN_REVIEW:
                corpora.corpus_review(
                    access=operator, corpus_id=corpus.pk, approve=True, note="Rights documents checked."
                )
                corpus.refresh_from_db()
        if spec.get("revision") and corpus.status == CorpusStatus.PUBLISHED and not corpus.revisions.exists():
            current = {name: getattr(corpus, name) for name in corpora.EDITABLE} | {
                "co_owners": shares_text(corpus.co_owners)
            }
            corpora.corpus_update(access=access, corpus=corpus, data=current | spec["revision"])
            top, bottom = PREVIEW_COLOURS[0]
            still = File(io.BytesIO(_gradient_png(320, 180, bottom, top)), name="preview.png")  # waits with it
            corpora.preview_add(access=access, corpus=corpus, upload=still, caption="Baltic series, still 1")
    return {"corpora": created}
