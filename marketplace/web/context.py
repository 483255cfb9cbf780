"""Template context shared by every page: the signed-in user's organisations."""

from marketplace.orgs.access import Perm, memberships_for


def navigation(request):
    access = getattr(request, "access", None)
    return {
        "my_memberships": memberships_for(request.user) if hasattr(request, "user") else [],
        "current_org": access.organisation if access else None,
        # What the member's role allows here, so that the menu offers only pages that will open.
        "current_can": {perm.value: access.can(perm) for perm in Perm} if access else {},
    }
