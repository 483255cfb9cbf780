"""Writes for organisations, members and invitations. Each function owns its transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from marketplace.orgs.access import OrgAccess, Perm
from marketplace.orgs.models import Invitation, Membership, Organisation, OrgKind, Role
from marketplace.orgs.selectors import invitations_unanswered

INVITATION_TTL = dt.timedelta(days=7)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def organisation_create(*, name: str, kind: str, owner, slug: str | None = None) -> Organisation:
    if kind not in OrgKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(OrgKind.values)}."})
    slug = slug or slugify(name)[:60]
    if not slug:
        raise ValidationError({"name": "The name needs at least one letter or digit."})
    if Organisation.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"An organisation called {slug!r} already exists."})
    organisation = Organisation.objects.create(name=name, slug=slug, kind=kind)
    Membership.objects.create(user=owner, organisation=organisation, role=Role.OWNER)
    return organisation


@transaction.atomic
def membership_set(*, organisation: Organisation, user, role: str) -> Membership:
    """Add a member or change their role (used by invitations and set-up scripts)."""
    if role not in Role.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(Role.values)}."})
    membership, _ = Membership.objects.update_or_create(user=user, organisation=organisation, defaults={"role": role})
    return membership


def roles_offered(access: OrgAccess) -> list[tuple[str, str]]:
    """The roles this member may give: an owner is made by an owner, and a catalogue manager has nothing to
    manage in a licensee."""
    return [
        (value, label)
        for value, label in Role.choices
        if (value != Role.OWNER or access.role == Role.OWNER)
        and (value != Role.CATALOG_MANAGER or access.organisation.kind != OrgKind.LICENSEE)
    ]


def _check_role_offered(access: OrgAccess, role: str) -> None:
    if role == Role.OWNER and access.role != Role.OWNER:
        raise ValidationError({"role": "Only an owner can make someone an owner."})
    if role not in dict(roles_offered(access)):
        raise ValidationError({"role": f"Choose one of: {', '.join(label for _, label in roles_offered(access))}."})


def _members_locked(access: OrgAccess) -> None:
    """Changes to one organisation's members run one at a time: each locks the organisation first. Locking only the
    member rows (the one changed, then the other owners) took them in opposite orders when two owners stepped down
    at once, and PostgreSQL aborted one of them with a deadlock. The caller's role is read again under the lock, as
    a change that waited may have been to it."""
    Organisation.objects.select_for_update(no_key=True).only("pk").get(pk=access.organisation.pk)
    current = Membership.objects.filter(pk=access.membership.pk).values_list("role", flat=True).first()
    if current is None:
        raise ValidationError(f"You are no longer a member of {access.organisation.name}.")
    access.membership.role = current
    access.require(Perm.MANAGE_MEMBERS)


@transaction.atomic
def membership_change(*, access: OrgAccess, membership_id: int, role: str) -> Membership:
    """Give a member another role. Owners are changed by owners only, and the last owner stays one."""
    access.require(Perm.MANAGE_MEMBERS)
    _members_locked(access)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .get(pk=membership_id, organisation=access.organisation)
    )
    _check_role_offered(access, role)
    if membership.role == Role.OWNER and role != Role.OWNER:
        _release_owner(access, membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, access: OrgAccess, membership_id: int) -> Membership:
    """Take someone out of the organisation (their account stays, with any other memberships)."""
    access.require(Perm.MANAGE_MEMBERS)
    _members_locked(access)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .get(pk=membership_id, organisation=access.organisation)
    )
    if membership.role == Role.OWNER:
        _release_owner(access, membership)
    membership.delete()
    return membership


def _release_owner(access: OrgAccess, membership: Membership) -> None:
    if access.role != Role.OWNER:
        raise ValidationError("Only an owner can change or remove an owner.")
    owners = Membership.objects.select_for_update().filter(organisation=access.organisation, role=Role.OWNER)
    if not owners.exclude(pk=membership.pk).exists():
        raise ValidationError(f"{membership.user.email} is the last owner: make someone else an owner first.")


@transaction.atomic
def invitation_create(*, access: OrgAccess, email: str, role: str, accept_base_url: str = "") -> Invitation:
    """Invite someone by email. The token is mailed once and only its hash is stored."""
    access.require(Perm.MANAGE_MEMBERS)
    _members_locked(access)  # two posts of one form (a double click) must not leave two pending links
    email = get_user_model().objects.normalize_email(email).strip()
    _check_role_offered(access, role)
    if Membership.objects.filter(organisation=access.organisation, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {access.organisation.name}."})
    # Inviting again sends a new link and retires the old one: one pending invitation per address.
    invitations_unanswered(access.organisation, email).update(revoked_at=timezone.now(), replaced=True)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organisation=access.organisation,
        email=email,
        role=role,
        token_hash=_hash(token),
        invited_by=access.user,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    link = accept_base_url.rstrip("/") + reverse("orgs:invitation_accept", args=[token])
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {access.organisation.name} on ClearFrame",
            message=(
                f"{access.user.get_full_name() or access.user.email} invited you to join "
                f"{access.organisation.name} on ClearFrame as {invitation.get_role_display()}.\n\n"
                f"Accept the invitation: {link}\n\nThe link expires on {invitation.expires_at:%d %B %Y}."
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    )
    return invitation


@transaction.atomic
def invitation_resend(*, access: OrgAccess, invitation_id: int, accept_base_url: str = "") -> Invitation:
    """A new link for a pending or expired invitation, with the same role; the earlier link stops working."""
    access.require(Perm.MANAGE_MEMBERS)
    _members_locked(access)  # the organisation before the invitation, in the order invitation_create takes them
    old = Invitation.objects.select_for_update().get(pk=invitation_id, organisation=access.organisation)
    if old.status not in ("pending", "expired"):
        raise ValidationError(f"The invitation to {old.email} is {old.status}: there is nothing to resend.")
    return invitation_create(access=access, email=old.email, role=old.role, accept_base_url=accept_base_url)


def invitation_for_token(token: str) -> Invitation | None:
    return Invitation.objects.select_related("organisation").filter(token_hash=_hash(token)).first()


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    invitation = (
        Invitation.objects.select_for_update().select_related("organisation").filter(token_hash=_hash(token)).first()
    )
    if invitation is None:
        raise ValidationError("This invitation link is not valid.")
    if invitation.status != "pending":
        raise ValidationError(invitation.status_message)
    # The link alone is not enough: it may have been forwarded, or read over someone's shoulder.
    # Case-insensitive, but not casefold(): that makes bob@straße.de and bob@strasse.de one address.
    if (user.email or "").lower() != invitation.email.lower():
        raise ValidationError(
            f"This invitation was sent to {invitation.email}; sign in with that address to accept it."
        )
    membership = Membership.objects.filter(user=user, organisation=invitation.organisation).first()
    if membership is None:
        membership = Membership.objects.create(user=user, organisation=invitation.organisation, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def invitation_revoke(*, access: OrgAccess, invitation_id: int) -> Invitation:
    access.require(Perm.MANAGE_MEMBERS)
    invitation = Invitation.objects.select_for_update().get(pk=invitation_id, organisation=access.organisation)
    if invitation.status != "pending":
        # A page left open meanwhile: say what happened rather than report a revocation that did nothing.
        raise ValidationError(
            {
                "accepted": f"{invitation.email} accepted the invitation already: remove the member instead.",
                "revoked": f"The invitation to {invitation.email} was revoked already.",
                "replaced": f"The invitation to {invitation.email} was replaced by a newer one; revoke that one.",
                "expired": f"The invitation to {invitation.email} has expired already: its link no longer works.",
            }[invitation.status]
        )
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    return invitation


@transaction.atomic
def user_register(*, email: str, password: str, full_name: str = ""):
    """Create an account for someone who accepted an invitation without one."""
    users = get_user_model()
    email = users.objects.normalize_email(email).strip()
    if users.objects.filter(username__iexact=email).exists():
        raise ValidationError({"email": "An account with this email exists already; sign in instead."})
    first, _, last = full_name.strip().partition(" ")
    return users.objects.create_user(username=email, email=email, password=password, first_name=first, last_name=last)
