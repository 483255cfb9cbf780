"""Corpora, assets, manifest imports, withdrawals and offers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class CorpusStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Corpus(models.Model):
    organisation = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="corpora")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField()
    modality = models.CharField(max_length=10, default="video", editable=False)
    languages = models.JSONField(default=list, help_text="BCP 47 language tags")
    genres = models.JSONField(default=list)
    content_rating = models.CharField(max_length=10)
    territory = models.JSONField(default=list, help_text="ISO 3166-1 alpha-2 codes, or WW for worldwide")
    chain_of_title = models.TextField(help_text="How the licensor came to hold these rights.")
    co_owners = models.JSONField(
        default=list,
        help_text='Royalty shares for assets that name no co-owners of their own: [{"org": "slug", "bp": 6000}]; '
        "empty: the licensor",
    )
    status = models.CharField(max_length=10, choices=CorpusStatus.choices, default=CorpusStatus.DRAFT)
    review_note = models.TextField(
        blank=True, default="", help_text="The operator's reason when a listing is rejected."
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Totals over active assets, recomputed in the same transaction as any change to them.
    asset_count = models.BigIntegerField(default=0)
    total_seconds = models.DecimalField(max_digits=18, decimal_places=3, default=0)
    total_bytes = models.BigIntegerField(default=0)
    # The earliest rights_expiry among active assets: whether any has run out, read without scanning them.
    first_rights_expiry = models.DateField(null=True, blank=True)
    # The cheapest published offer's price for 1,000 hours, per hour: comparable across plan types.
    price_per_hour_from = models.BigIntegerField(null=True, blank=True)
    price_currency = models.CharField(max_length=3, blank=True, default="")
    # The same, per currency ({"EUR": 9000, "JPY": 1500}): the price filter compares within a currency.
    prices_per_hour = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "corpora"
        indexes = [models.Index(fields=["status", "-published_at"], name="catalog_corpus_listing_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CorpusStatus.values), name="catalog_corpus_status_valid"),
            models.CheckConstraint(condition=Q(asset_count__gte=0, total_bytes__gte=0), name="catalog_corpus_totals"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def total_hours(self):
        return self.total_seconds / 3600

    @property
    def status_label(self) -> str:
        """A draft the operator sent back reads as such in lists, not as a plain draft."""
        if self.status == CorpusStatus.DRAFT and self.review_note:
            return "Sent back"
        return self.get_status_display()

    @property
    def content_rating_label(self) -> str:
        from marketplace.catalog.vocab import CONTENT_RATINGS

        return CONTENT_RATINGS.get(self.content_rating, self.content_rating)

    @property
    def genre_labels(self) -> list[str]:
        from marketplace.catalog.vocab import GENRES

        return [GENRES.get(code, code) for code in self.genres]


class RevisionStatus(models.TextChoices):
    PENDING = "pending", "Waiting for review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Sent back"
    SUPERSEDED = "superseded", "Replaced or withdrawn"


class CorpusRevision(models.Model):
    """Changes to a published listing's public details, held for the operator's review where the market reviews
    listings: what they approved stays in the catalogue until they approve the change, and the rows keep the
    history of what the listing said, and when (the chain of title above all)."""

    corpus = models.ForeignKey(Corpus, on_delete=models.PROTECT, related_name="revisions")
    changes = models.JSONField(help_text="The fields that change, with their new values.")
    previous = models.JSONField(help_text="The same fields as the listing had them when the change was proposed.")
    status = models.CharField(max_length=10, choices=RevisionStatus.choices, default=RevisionStatus.PENDING)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, default="", help_text="The operator's note on the decision.")

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RevisionStatus.values), name="catalog_revision_status_valid"),
            models.UniqueConstraint(
                fields=["corpus"], condition=Q(status="pending"), name="catalog_revision_one_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"revision {self.pk} of {self.corpus} ({self.status})"

    @property
    def summary(self) -> str:
        """What the revision changes, in a few words: for the queue and the mails."""
        parts = [label.lower() for name, label in REVIEWED_FIELDS.items() if name in self.changes]
        if added := getattr(self, "preview_count", None) or self.previews.count():  # annotated in lists
            parts.append(f"{added} new preview{'s' if added > 1 else ''}")
        return ", ".join(parts)

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        """(label, before, after) as text, in the form's order: for the review page and the corpus page."""
        return [
            (label, _shown(name, self.previous.get(name)), _shown(name, self.changes[name]))
            for name, label in REVIEWED_FIELDS.items()
            if name in self.changes
        ]


# The public details of a listing, which the operator reviews (royalty shares are the licensor's finance's).
REVIEWED_FIELDS = {
    "title": "Title",
    "description": "Description",
    "languages": "Languages",
    "genres": "Genres",
    "content_rating": "Content rating",
    "territory": "Rights territory",
    "chain_of_title": "Chain of title",
}


def _shown(name: str, value) -> str:
    from marketplace.catalog.vocab import CONTENT_RATINGS, GENRES

    if name == "genres":
        return ", ".join(GENRES.get(code, code) for code in value or [])
    if name == "content_rating":
        return CONTENT_RATINGS.get(value, value or "")
    return ", ".join(value) if isinstance(value, list) else str(value or "")


class PreviewMedia(models.Model):
    corpus = models.ForeignKey(Corpus, on_delete=models.CASCADE, related_name="previews")
    kind = models.CharField(max_length=5, choices=[("image", "Image"), ("clip", "Clip")])
    file = models.FileField(upload_to="previews/%Y/%m/")
    caption = models.CharField(max_length=200, blank=True, default="")
    # Added to a published listing where the market reviews listings: public once that revision is approved.
    revision = models.ForeignKey(
        CorpusRevision, null=True, blank=True, on_delete=models.PROTECT, related_name="previews"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.caption or str(self.file)

    @property
    def live(self) -> bool:
        """Shown to buyers (while its corpus is published): added before the listing was approved, or approved
        with the changes it came with."""
        return self.revision is None or self.revision.status == RevisionStatus.APPROVED


class AssetStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ManifestFields(models.Model):
    """The fields a manifest row describes; shared by the asset and its staged manifest row."""

    external_id = models.CharField(max_length=200)
    title = models.CharField(max_length=500)
    duration_seconds = models.DecimalField(max_digits=12, decimal_places=3)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    fps = models.DecimalField(max_digits=7, decimal_places=3)
    codec = models.CharField(max_length=50)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_uri = models.CharField(max_length=1000)
    language = models.CharField(max_length=35, blank=True, default="")
    rights_expiry = models.DateField(null=True, blank=True)
    territories = models.JSONField(default=list)
    clip_exclusions = models.JSONField(default=list, help_text='[{"start": 60.0, "end": 90.0, "reason": "music"}]')
    co_owners = models.JSONField(
        default=list, help_text='Royalty shares in basis points: [{"org": "slug", "bp": 6000}]; empty: the licensor'
    )

    class Meta:
        abstract = True


class Asset(ManifestFields):
    # Every index costs each of a million imported rows: the unique (corpus, external_id) and the listing index
    # serve lookups by corpus, only withdrawn assets need one by withdrawal, and none is looked up by import.
    # On PostgreSQL the corpus and the withdrawal are checked by triggers (ADR 0011), not per row by foreign keys.
    corpus = models.ForeignKey(
        Corpus, on_delete=models.PROTECT, related_name="assets", db_index=False, db_constraint=False
    )
    status = models.CharField(max_length=10, choices=AssetStatus.choices, default=AssetStatus.ACTIVE)
    withdrawal = models.ForeignKey(
        "Withdrawal",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # A bookkeeping pointer without a database constraint: its check ran once per imported row.
    last_import = models.ForeignKey(
        "ManifestImport",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["corpus", "id"]
        constraints = [
            models.UniqueConstraint(fields=["corpus", "external_id"], name="catalog_asset_corpus_external_id_uniq"),
            models.CheckConstraint(condition=Q(duration_seconds__gt=0), name="catalog_asset_duration_positive"),
            models.CheckConstraint(condition=Q(size_bytes__gt=0), name="catalog_asset_size_positive"),
            models.CheckConstraint(condition=Q(width__gt=0, height__gt=0, fps__gt=0), name="catalog_asset_format"),
            models.CheckConstraint(condition=Q(status__in=AssetStatus.values), name="catalog_asset_status_valid"),
        ]
        indexes = [
            models.Index(fields=["corpus", "status", "id"], name="catalog_asset_listing_idx"),
            models.Index(
                fields=["withdrawal"], condition=Q(withdrawal__isnull=False), name="catalog_asset_withdrawn_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.title}"

    @property
    def rights_expired(self) -> bool:
        """rights_expiry is the last day the rights run (selectors.rights_expired_assets)."""
        return self.rights_expiry is not None and self.rights_expiry < timezone.localdate()


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    VALIDATING = "validating", "Validating"
    INVALID = "invalid", "Has errors"
    APPLYING = "applying", "Applying"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ManifestImport(models.Model):
    corpus = models.ForeignKey(Corpus, on_delete=models.PROTECT, related_name="imports")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file = models.FileField(upload_to="manifests/%Y/%m/")
    original_name = models.CharField(max_length=255)
    format = models.CharField(max_length=5, choices=[("csv", "CSV"), ("jsonl", "JSON Lines")])
    size_bytes = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    file_error = models.TextField(blank=True, default="", help_text="A problem with the file as a whole.")
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of reading and checking done.")
    rows_seen = models.BigIntegerField(default=0)
    error_count = models.BigIntegerField(default=0)
    added = models.BigIntegerField(default=0)
    changed = models.BigIntegerField(default=0)
    unchanged = models.BigIntegerField(default=0)
    missing = models.BigIntegerField(default=0, help_text="Active assets that this manifest no longer lists.")
    still_withdrawn = models.BigIntegerField(default=0, help_text="Rows for withdrawn assets, left withdrawn.")
    rights_expired = models.BigIntegerField(
        default=0, help_text="Active assets this manifest lists whose rights_expiry had passed when it was applied."
    )
    kept_columns = models.JSONField(
        default=list, blank=True, help_text="Optional columns the file leaves out: assets keep what they store."
    )
    changes_sample = models.JSONField(
        default=dict,
        blank=True,
        help_text='The first assets added and changed, by external id: {"added": [external_id, …], "changed": '
        '[{"external_id": …, "fields": {field: [before, after]}}, …]}.',
    )
    missing_withdrawal = models.ForeignKey(
        "Withdrawal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    run_in_foreground = models.BooleanField(
        default=False,
        help_text="Run by its uploader's process (the import_manifest command), not a worker: if that process stops, "
        "the import fails instead of being retried behind its back.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # 1, 2, 3… per corpus in the order imports applied, taken under the corpus lock: which listing is current
    # must not hang on the clocks of the workers that applied them.
    applied_seq = models.PositiveBigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ImportStatus.values), name="catalog_import_status_valid"),
            models.UniqueConstraint(fields=["corpus", "applied_seq"], name="catalog_import_applied_seq_uniq"),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} of {self.original_name}"

    @property
    def progress_percent(self) -> int | None:
        """None while applying: one transaction, whose progress nobody outside it can see."""
        if self.status in (ImportStatus.DONE, ImportStatus.INVALID):
            return 100
        if self.status == ImportStatus.APPLYING:
            return None
        return min(99, self.progress)

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.INVALID, ImportStatus.FAILED)


class ManifestRowError(models.Model):
    manifest_import = models.ForeignKey(ManifestImport, on_delete=models.CASCADE, related_name="row_errors")
    line = models.BigIntegerField()
    field = models.CharField(max_length=60, blank=True, default="")
    message = models.TextField()
    external_id = models.CharField(
        max_length=200, null=True, blank=True, help_text="The bad row's id, if readable: checked for duplicates too."
    )

    class Meta:
        ordering = ["manifest_import", "line", "id"]
        indexes = [models.Index(fields=["manifest_import", "line"], name="catalog_rowerror_import_idx")]

    def __str__(self) -> str:
        return f"line {self.line} {self.field}: {self.message}"


class ManifestRow(ManifestFields):
    """A validated manifest row, staged before it is applied; kept as the manifest's content."""

    # Staging rows: the cascade is Django's, and no per-row constraint check slows the import. The
    # (manifest_import, external_id) index serves lookups by import, so the key needs no index of its own.
    manifest_import = models.ForeignKey(
        ManifestImport, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    line = models.BigIntegerField()
    kept = models.PositiveSmallIntegerField(
        default=0, help_text="Optional columns the row leaves out (manifest.KEEP_BITS): the asset keeps them."
    )

    class Meta:
        indexes = [models.Index(fields=["manifest_import", "external_id"], name="catalog_mrow_import_ext_idx")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.external_id}"


class WithdrawalScope(models.TextChoices):
    ASSETS = "assets", "Selected assets"
    LISTED = "listed", "Listed by external id"
    CORPUS = "corpus", "Whole corpus"
    MISSING = "missing", "Missing from a manifest"
    RIGHTS_EXPIRED = "expired", "Rights expired"


class Withdrawal(models.Model):
    """A takedown: who withdrew what, when and why."""

    corpus = models.ForeignKey(Corpus, on_delete=models.PROTECT, related_name="withdrawals")
    scope = models.CharField(max_length=10, choices=WithdrawalScope.choices)
    reason = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    asset_count = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"withdrawal {self.pk} ({self.scope}) of {self.corpus}"


class OfferStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Offer(models.Model):
    corpus = models.ForeignKey(Corpus, on_delete=models.PROTECT, related_name="offers")
    name = models.CharField(max_length=120, help_text="The latest version's name; each version keeps its own.")
    status = models.CharField(max_length=10, choices=OfferStatus.choices, default=OfferStatus.DRAFT)
    # While on sale: its current version's price per hour at 1,000 hours for this corpus, rounded up, so that the
    # catalogue's price filter reads the offer that grants the terms asked for (services.listing).
    listed_price_per_hour = models.BigIntegerField(null=True, blank=True, editable=False)
    listed_currency = models.CharField(max_length=3, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["corpus", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def current_version(self) -> OfferVersion | None:
        return self.versions.order_by("-number").first()


class OfferVersion(models.Model):
    """The terms of an offer at one point in time. A published version never changes:
    editing a published offer creates the next version, and licences keep theirs."""

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    # Names carry terms ("Research licence, 12 months"): a licence shows the name it was bought under.
    name = models.CharField(max_length=120)
    permitted_uses = models.JSONField(default=list)
    term_months = models.PositiveIntegerField()
    territory = models.JSONField(default=list)
    exclusive = models.BooleanField(default=False)
    attribution = models.TextField(blank=True, default="")
    output_restrictions = models.TextField(blank=True, default="")
    no_identifiable_replicas = models.BooleanField(default=True)
    no_verbatim_scenes = models.BooleanField(default=True)
    no_derivative_works = models.BooleanField(default=True)
    refused_licensees = models.ManyToManyField("orgs.Organisation", blank=True, related_name="+")
    commission_bp = models.PositiveIntegerField(help_text="The marketplace's commission in basis points.")
    currency = models.CharField(max_length=3)
    price_plan = models.JSONField(help_text="See marketplace.pricing.PricePlan.")
    published = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["offer", "number"]
        constraints = [
            models.UniqueConstraint(fields=["offer", "number"], name="catalog_offerversion_number_uniq"),
            models.CheckConstraint(condition=Q(commission_bp__lte=10_000), name="catalog_offerversion_commission"),
            models.CheckConstraint(condition=Q(term_months__gte=1), name="catalog_offerversion_term"),
            models.CheckConstraint(
                condition=Q(published=False) | Q(published_at__isnull=False), name="catalog_offerversion_published_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.number}"

    @property
    def commission_percent(self):
        from decimal import Decimal

        return Decimal(self.commission_bp) / 100
