"""Template context shared by every page: the signed-in user's organisations."""

from marketplace.orgs.access import LAST_ORG_SESSION_KEY, OrgAccess, Perm, memberships_for


def navigation(request):
    memberships = memberships_for(request.user) if hasattr(request, "user") else []
    access = getattr(request, "access", None)
    if access is None and memberships:
        # A page outside any organisation (the public catalogue) keeps the menu of the one last worked in.
        last = request.session.get(LAST_ORG_SESSION_KEY)
        chosen = next((m for m in memberships if m.organisation.slug == last), None)
        if chosen is None and len(memberships) == 1:
            chosen = memberships[0]
        access = OrgAccess(chosen.organisation, chosen) if chosen else None
    return {
        "my_memberships": memberships,
        "current_org": access.organisation if access else None,
        # What the member's role allows here, so that the menu offers only pages that will open.
        "current_can": {perm.value: access.can(perm) for perm in Perm} if access else {},
    }
