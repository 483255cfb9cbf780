"""Organisations and the people in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class OrgKind(models.TextChoices):
    LICENSOR = "licensor", "Licensor (platform or studio)"
    LICENSEE = "licensee", "Licensee (AI firm)"
    OPERATOR = "operator", "Operator (runs the market)"


# The parties to a licence: the pages of licences and charges exist for them, not for the operator.
TRADING_KINDS = frozenset({OrgKind.LICENSOR, OrgKind.LICENSEE})


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    CATALOG_MANAGER = "catalog_manager", "Catalogue manager"
    FINANCE = "finance", "Finance"
    VIEWER = "viewer", "Viewer"


class Organisation(models.Model):
    name = models.CharField(max_length=200)
    # The slug is the organisation's stable identity (URLs, ledger party references);
    # it never changes after creation.
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=10, choices=OrgKind.choices)
    website = models.URLField(blank=True, default="")
    invoicing_approved = models.BooleanField(
        default=False, help_text="Licensees only: the operator allows buying on account."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=OrgKind.values), name="orgs_organisation_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def party_ref(self) -> str:
        """How the ledger names this organisation."""
        return f"org:{self.slug}"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation__name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="orgs_membership_user_org_uniq"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="orgs_membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation} as {self.role}"


class Invitation(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the emailed token.")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    replaced = models.BooleanField(default=False, help_text="Revoked because the address was invited again.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.organisation} as {self.role}"

    @property
    def status(self) -> str:
        from django.utils import timezone

        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "replaced" if self.replaced else "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    @property
    def status_message(self) -> str:
        """Why the link no longer works, for the person who followed it."""
        return {
            "accepted": "This invitation has already been accepted.",
            "revoked": "This invitation was revoked; ask the organisation for a new one.",
            "replaced": "A newer invitation replaced this one: use the link in the latest email.",
            "expired": "This invitation has expired; ask the organisation for a new one.",
        }.get(self.status, "")
