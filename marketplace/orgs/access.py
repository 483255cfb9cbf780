"""Who may do what in an organisation.

A user who is not a member of an organisation gets 404 for everything in it,
exactly as if it did not exist, and so does a page that does not exist for the
organisation's kind. A member whose role does not allow an action gets 403
with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from marketplace.orgs.models import Membership, Organisation, OrgKind, Role


class Perm(StrEnum):
    VIEW = "view"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_CATALOG = "manage_catalog"
    FINANCE = "finance"
    REVIEW = "review"  # operator only: approve or reject listings
    MANAGE_API = "manage_api"  # licensee only: API keys and webhook endpoints


# What each permission lets a person do, for refusals that people read.
PERM_WORDS = {
    Perm.VIEW: "viewing this organisation",
    Perm.MANAGE_MEMBERS: "managing its members",
    Perm.MANAGE_CATALOG: "managing its catalogue",
    Perm.FINANCE: "using its finance pages",
    Perm.REVIEW: "reviewing listings",
    Perm.MANAGE_API: "managing its API keys and webhooks",
}

ROLE_PERMS: dict[str, set[Perm]] = {
    Role.OWNER: set(Perm),
    Role.ADMIN: set(Perm),
    Role.CATALOG_MANAGER: {Perm.VIEW, Perm.MANAGE_CATALOG, Perm.REVIEW},
    Role.FINANCE: {Perm.VIEW, Perm.FINANCE},
    Role.VIEWER: {Perm.VIEW},
}


def roles_with(perm: Perm) -> list[str]:
    """The roles whose members hold ``perm`` (in an organisation of a kind it applies to)."""
    return [role for role, perms in ROLE_PERMS.items() if perm in perms]


# Which organisation kinds an action makes sense for at all.
KIND_PERMS: dict[Perm, set[str]] = {
    Perm.MANAGE_CATALOG: {OrgKind.LICENSOR},
    Perm.REVIEW: {OrgKind.OPERATOR},
    Perm.MANAGE_API: {OrgKind.LICENSEE},
}


@dataclass(frozen=True)
class OrgAccess:
    organisation: Organisation
    membership: Membership

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def user(self):
        return self.membership.user

    def can(self, perm: Perm) -> bool:
        kinds = KIND_PERMS.get(perm)
        if kinds is not None and self.organisation.kind not in kinds:
            return False
        return perm in ROLE_PERMS.get(self.role, set())

    def require(self, perm: Perm) -> None:
        kinds = KIND_PERMS.get(perm)
        if kinds is not None and self.organisation.kind not in kinds:
            # The page does not exist for this kind of organisation (a licensor has no review queue).
            raise Http404("Not available for this organisation")
        if not self.can(perm):
            raise PermissionDenied(
                f"Your role in {self.organisation.name} ({self.membership.get_role_display()}) "
                f"does not allow {PERM_WORDS[perm]}; an owner or admin can change your role."
            )


def org_access(user, slug: str) -> OrgAccess:
    """The caller's access to an organisation; 404 if they are not a member."""
    if not user.is_authenticated:
        raise Http404("No such organisation")
    membership = (
        Membership.objects.select_related("organisation", "user").filter(user=user, organisation__slug=slug).first()
    )
    if membership is None:
        raise Http404("No such organisation")
    return OrgAccess(membership.organisation, membership)


LAST_ORG_SESSION_KEY = "last_org"


def org_view(perm: Perm = Perm.VIEW, *, kinds: set[str] | None = None) -> Callable:
    """Resolve ``org_slug`` from the URL into ``request.access``, enforcing ``perm``; a page for other ``kinds``
    of organisation (a licensor's corpora, to a licensee) does not exist for this one: 404."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, org_slug: str, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            access = org_access(request.user, org_slug)
            if kinds is not None and access.organisation.kind not in kinds:
                raise Http404("Not available for this organisation")
            try:
                access.require(perm)
            except PermissionDenied:
                # An object's page (an id in the URL) is a 404 to anyone without the role, whichever
                # organisation owns the id: a role check must not tell another organisation's ids from ours.
                if any(name.endswith("_id") for name in kwargs):
                    raise Http404("No such page") from None
                raise
            request.access = access  # type: ignore[attr-defined]
            if request.session.get(LAST_ORG_SESSION_KEY) != org_slug:
                request.session[LAST_ORG_SESSION_KEY] = org_slug  # the menu on pages outside any organisation
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def memberships_for(user) -> list[Membership]:
    if not user.is_authenticated:
        return []
    return list(Membership.objects.select_related("organisation").filter(user=user).order_by("organisation__name"))
